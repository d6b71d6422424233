import * as pulumi from "@pulumi/pulumi";
// Internal module of the SDK: the mock monitor and the RPC drain are not in its public surface.
import * as settings from "@pulumi/pulumi/runtime/settings";
import { SECRET } from "./stack-file";

/** A resource as the program registered it under the mock runtime. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** URN of the parent (component), if any. */
  readonly parent?: string;
  readonly custom: boolean;
  /** Inputs with every secret replaced by {@link SECRET} and unknowns by {@link UNKNOWN}. */
  readonly inputs: Record<string, unknown>;
  /** Dotted paths of the inputs that were secrets. */
  readonly secretPaths: readonly string[];
  readonly protect: boolean;
  readonly ignoreChanges: readonly string[];
  /** URNs of the resources it was declared to depend on (explicit and through its inputs). */
  readonly dependencies: readonly string[];
  /** The `import` resource option: the ID of an existing resource the first `up` adopts. */
  readonly importId?: string;
}

export interface Synthesis {
  readonly resources: readonly RecordedResource[];
  /** Resources the program reads rather than manages (a StackReference to the leading stack). */
  readonly reads?: readonly { readonly type: string; readonly name: string; readonly id: string }[];
  readonly outputs: Record<string, unknown>;
}

/** Placeholders: a synthesis never carries a secret's value. */
export { SECRET } from "./stack-file";
export const UNKNOWN = "[unknown]";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Outputs the providers would compute, so that applies and interpolations resolve as in a real run. */
function computedOutputs(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  stackOutputs: Readonly<Record<string, Record<string, unknown>>> = {},
): Record<string, unknown> {
  switch (type) {
    case "pulumi:pulumi:StackReference": {
      // Another stack's outputs, as the caller knows them (the leader's ledger); none: an empty stack.
      const stack =
        String(inputs.name ?? "")
          .split("/")
          .pop() ?? "";
      return { outputs: stackOutputs[stack] ?? {}, secretOutputNames: [] };
    }
    case "gcp:sql/databaseInstance:DatabaseInstance":
      return {
        privateIpAddress: "10.20.0.3",
        connectionName: `${String(inputs.project)}:${String(inputs.region)}:${String(inputs.name)}`,
      };
    case "gcp:redis/instance:Instance":
      return { host: "10.30.0.4", port: 6378, authString: "mock-auth", serverCaCerts: [{ cert: "mock-ca" }] };
    case "gcp:cloudrunv2/service:Service":
      return { uri: `https://${String(inputs.name)}-mock.a.run.app` };
    case "random:index/randomPassword:RandomPassword":
      return { result: `mock-password-${name}` };
    case "random:index/randomId:RandomId":
      return {
        b64Std: Buffer.from(`salt-${name}`.padEnd(16, "-").slice(0, 16)).toString("base64"),
        hex: "00",
      };
    case "pulumi-nodejs:dynamic:Resource":
      // The phase ledger records what it was given once `up` applies it; the times are the apply's.
      return inputs.cutoverLedger === "v1"
        ? { deployed: inputs.position, appliedAt: "(recorded at up)", facts: {}, history: [], pins: {} }
        : {};
    default:
      return {};
  }
}

/** Calls the program may make; anything else is a bug and fails the synthesis (strict mocks). */
function mockCall(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
  if (args.token === "gcp:organizations/getClientConfig:getClientConfig") {
    return { accessToken: "mock-access-token", project: "mock", region: "mock", zone: "mock", id: "mock" };
  }
  throw new Error(`unexpected call ${args.token} in the mock runtime`);
}

/** Replaces secrets and unknowns, collecting the paths of the secrets. */
function scrub(value: unknown, path: string, secrets: string[]): unknown {
  if (value === pulumi.runtime.unknownValue || (pulumi.Output.isInstance(value) as boolean)) return UNKNOWN;
  if (Array.isArray(value)) return value.map((v, i) => scrub(v, `${path}[${i}]`, secrets));
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG_KEY] === SECRET_SIG) {
      secrets.push(path);
      return SECRET;
    }
    if (SIG_KEY in obj) return UNKNOWN;
    return Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [k, scrub(v, path ? `${path}.${k}` : k, secrets)]),
    );
  }
  return value;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect?(): boolean;
  getIgnorechangesList?(): string[];
  getDependenciesList?(): string[];
  getImportid?(): string;
}
type Monitor = {
  registerResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
  readResource(
    req: { getType(): string; getName(): string; getId(): string },
    cb: (err: unknown, res: unknown) => void,
  ): Promise<void>;
};

let queue: Promise<unknown> = Promise.resolve();

export interface SynthesisOptions {
  readonly stack: string;
  readonly config: Record<string, unknown>;
  readonly secretKeys?: readonly string[];
  readonly preview?: boolean;
  /** Other stacks' outputs by stack name, for the program's StackReferences (a leader's ledger). */
  readonly stackOutputs?: Readonly<Record<string, Record<string, unknown>>>;
}

/**
 * Runs `program` on Pulumi's mock runtime with the given config (flat `namespace:key` → value; objects are
 * passed as JSON) and returns what it registered. No cloud, no credentials, no CLI. Syntheses are
 * serialized: the Pulumi runtime is process-global.
 */
export function synthesize(
  program: () => Promise<Record<string, unknown>>,
  opts: SynthesisOptions,
): Promise<Synthesis> {
  const run = queue.then(async () => {
    // The SDK captures a stack trace for every promise and resource (debug aids and source positions);
    // offline they are never shown, and capturing them (source-mapped under tsx) dominated synthesis.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return await synthesizeNow(program, opts);
    } finally {
      Error.stackTraceLimit = limit;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

async function synthesizeNow(
  program: () => Promise<Record<string, unknown>>,
  opts: SynthesisOptions,
): Promise<Synthesis> {
  const seen = new Map<string, { inputs: Record<string, unknown>; secretPaths: string[]; custom: boolean }>();
  const recorded: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      call: mockCall,
      newResource(args) {
        const secretPaths: string[] = [];
        const inputs = scrub(args.inputs, "", secretPaths) as Record<string, unknown>;
        seen.set(`${args.type}::${args.name}`, { inputs, secretPaths, custom: args.custom ?? true });
        return {
          id: args.custom === false ? undefined : `${args.name}-id`,
          state: {
            ...args.inputs,
            ...computedOutputs(args.type, args.name, args.inputs, opts.stackOutputs),
          },
        };
      },
    },
    "cutover",
    opts.stack,
    opts.preview ?? true,
    // The organization a StackReference's name starts with (Pulumi Cloud's default name offline).
    "organization",
  );
  // The mocks API hides resource options and URNs; read them off the register request and response.
  const monitor = settings.getMonitor() as unknown as Monitor;
  const reads: { type: string; name: string; id: string }[] = [];
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, cb) =>
    read(req, (err, res) => {
      if (!err) reads.push({ type: req.getType(), name: req.getName(), id: req.getId() });
      cb(err, res);
    });
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, res) => {
      const r = seen.get(`${req.getType()}::${req.getName()}`);
      if (!err && r && req.getType() !== "pulumi:pulumi:Stack") {
        recorded.push({
          type: req.getType(),
          name: req.getName(),
          urn: (res as { getUrn(): string }).getUrn(),
          parent: req.getParent() || undefined,
          custom: r.custom,
          inputs: r.inputs,
          secretPaths: r.secretPaths,
          protect: req.getProtect?.() ?? false,
          ignoreChanges: req.getIgnorechangesList?.() ?? [],
          dependencies: req.getDependenciesList?.() ?? [],
          ...(req.getImportid?.() ? { importId: req.getImportid!() } : {}),
        });
      }
      cb(err, res);
    });
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(flat, [...(opts.secretKeys ?? [])]);

  // A program that throws inside the root stack component leaves an unhandled rejection behind in the
  // SDK: catch it here, let the stack finish registering, then report it.
  let failure: { error: unknown } | undefined;
  const outputs =
    (await pulumi.runtime.runInPulumiStack(async () => {
      try {
        return await program();
      } catch (error) {
        failure = { error };
        return {};
      }
    })) ?? {};
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  if (failure) {
    // Tells callers (and tests) how much the program declared before failing: a bad config declares nothing.
    if (failure.error instanceof Error) Object.assign(failure.error, { declaredResources: recorded.length });
    throw failure.error;
  }
  return { resources: recorded, reads, outputs: scrub(outputs, "", []) as Record<string, unknown> };
}
