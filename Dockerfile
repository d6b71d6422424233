# The jobs' image (config `validation.image`): `validate --shard auto` in Cloud Run Job tasks, and the
# replication jobs of `replication: logical` and the switch (which override the entrypoint with
# `cutover replication`).
# Build and push it with the stack's registry, e.g.:
#   gcloud builds submit --tag us-west2-docker.pkg.dev/<project>/avvivo/cutover-validate:<tag>
FROM node:20-bookworm-slim
# pg_dump and psql for `replication: logical` (its start job copies the schema). Debian bookworm ships
# the PostgreSQL 15 client; pg_dump must be at least the source's major version, so a newer source
# needs the PGDG client of that version here.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts skipped: the job needs neither the local servers nor wrangler's runtime.
RUN npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY . .
# The compiled `cutover` (dist/): no TypeScript compiler or tsx at run time.
RUN npm run build
USER node
ENTRYPOINT ["node", "dist/cli/main.js", "check", "validate"]
