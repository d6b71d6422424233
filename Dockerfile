# The validation job's image (config `validation.image`): `validate --shard auto` in Cloud Run Job tasks.
# Build and push it with the stack's registry, e.g.:
#   gcloud builds submit --tag us-west2-docker.pkg.dev/<project>/avvivo/cutover-validate:<tag>
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts skipped: the job needs neither the local servers nor wrangler's runtime.
RUN npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY . .
USER node
ENTRYPOINT ["node", "--import", "tsx", "scripts/validate.ts"]
