import { PolicyPack } from "@pulumi/policy";
import { PACK, POLICIES } from "./registry";

// Constructing the pack starts the analyzer's gRPC server, so this is the only module that does it:
// tests and the offline plan import ./registry and ./evaluate instead.
new PolicyPack(PACK.name, {
  description: "Safety invariants of zero-downtime database cutovers (cloudsql and dual-write migrations).",
  policies: POLICIES,
});
