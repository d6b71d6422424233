import * as pulumi from "@pulumi/pulumi";

/** What the program tells the policy pack about a migration: the plan minus traffic percentages. */
export interface MigrationSpecProps {
  /** Marker the policy pack looks for. */
  readonly cutoverSpec: "v1";
  readonly migration: string;
  readonly kind: "cloudsql" | "dual-write";
  readonly phase: string;
  /** For rollback, the phase being left; else the phase. */
  readonly basePhase: string;
  readonly attempt?: number;
  readonly promoted?: boolean;
  readonly service?: string;
  /** The config marks the service public (allUsers may invoke it). */
  readonly public?: boolean;
  readonly stableRevision?: string;
  readonly revisions?: readonly { name: string; role: string; database: string; writes: boolean }[];
  readonly [extra: string]: unknown;
}

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
    super(specProvider, name, { ...props }, opts);
  }
}
