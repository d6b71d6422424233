import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { MigrationSpecSchema } from "../../contract/spec";

/** What the program tells the policy pack about a migration: the contract in `contract/spec.ts`. */
export type MigrationSpecProps = z.input<typeof MigrationSpecSchema>;

// No cloud API is called: the resource only records the spec in the state, where
// `pulumi preview --policy-pack` reads it as the inputs of a resource.
const specProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: MigrationSpecProps) {
    return { id: `${inputs.migration}-spec`, outs: inputs };
  },
  async update(_id: string, _olds: MigrationSpecProps, news: MigrationSpecProps) {
    return { outs: news };
  },
};

/** Exposes a migration's desired state to stack-level policies (no-op dynamic resource). */
export class MigrationSpec extends pulumi.dynamic.Resource {
  constructor(name: string, props: MigrationSpecProps, opts?: pulumi.CustomResourceOptions) {
    // Checked here as the pack will check it: a program that breaks the contract fails at once.
    MigrationSpecSchema.parse(props);
    super(specProvider, name, { ...props }, opts);
  }
}
