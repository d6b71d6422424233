import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * Which top-level folders each may import (docs/architecture.md): data flows one way, contract → infra →
 * stacks, operations (ops/) on top of them, the command line (cli/) on top of ops, and the Workers on ops'
 * pure parts only. A file may import its own folder freely; tests import anything.
 */
const LAYERS = {
  contract: [],
  infra: ["contract"],
  stacks: ["contract", "infra"],
  policies: ["contract", "infra"],
  tooling: ["contract", "infra"],
  ops: ["contract", "infra", "stacks", "policies", "tooling"],
  cli: ["contract", "infra", "stacks", "policies", "tooling", "ops"],
  workers: ["contract", "ops"],
};
const boundaries = Object.entries(LAYERS).map(([layer, allowed]) => {
  const forbidden = Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
  const regex = `^(\\.\\./)+(${forbidden.join("|")})(/|$)`;
  const message = `${layer}/ may import only ${allowed.join(", ") || "nothing of ours"} (see LAYERS in eslint.config.mjs)`;
  return {
    files: [`${layer}/**/*.ts`],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex, message }] }],
      // The same boundary for `await import("…")`, which no-restricted-imports does not see.
      "no-restricted-syntax": [
        "error",
        { selector: `ImportExpression[source.value=/${regex.replaceAll("/", "\\/")}/]`, message },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", "coverage/**", ".wrangler/**", "**/.wrangler/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-properties": [
        "error",
        { object: "it", property: "skip" },
        { object: "it", property: "only" },
        { object: "describe", property: "skip" },
        { object: "describe", property: "only" },
        { object: "test", property: "skip" },
        { object: "test", property: "only" },
      ],
    },
  },
  ...boundaries,
  // Tests build fixtures from loosely typed YAML: `any` is allowed there, nowhere else.
  { files: ["test/**/*.ts"], rules: { "@typescript-eslint/no-explicit-any": "off" } },
  {
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: {
      globals: {
        module: "writable",
        require: "readonly",
        process: "readonly",
        __dirname: "readonly",
        console: "readonly",
      },
    },
  },
);
