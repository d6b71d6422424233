/**
 * The Cloudflare SDK, loaded through this module so that the client and the error classes that
 * cloudflare-errors.ts tests with `instanceof` come from one copy (a bare dynamic `import("cloudflare")`
 * may load the package's ESM build beside the CommonJS one that a static import loads).
 */
export { default as Cloudflare } from "cloudflare";
