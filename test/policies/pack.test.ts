import { ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { POLICIES } from "../../policies/registry";
import { changed, compliantStack, STABLE, CANDIDATE, target } from "./fixtures";
import { recordServer } from "../support/servers";

// Starts the pack exactly as the Pulumi CLI's nodejs host does for `--policy-pack policies`: the SDK's
// run-policy-pack entry point, in the pack's folder, compiling index.ts with ts-node (type-checked).
const ROOT = join(__dirname, "../..");
const START_TIMEOUT_MS = 240_000;
let pack: ChildProcess | undefined;
let client: AnalyzerClient;
let stderr = "";

beforeAll(async () => {
  const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [join(ROOT, "policies")] });
  pack = spawn(process.execPath, [runner, "engine-address-unused", "."], {
    cwd: join(ROOT, "policies"),
    stdio: ["ignore", "pipe", "pipe"],
  });
  recordServer("policy pack", pack.pid);
  pack.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    let out = "";
    pack!.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) resolve(m[1]);
    });
    pack!.on("exit", (code) =>
      reject(new Error(`the pack exited with ${code} before listening:\n${stderr}`)),
    );
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}, START_TIMEOUT_MS);

afterAll(() => {
  client?.close();
  if (pack?.pid !== undefined && pack.exitCode === null) process.kill(pack.pid);
});

const unary = <Req, Res>(
  method: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
  req: Req,
) => new Promise<Res>((resolve, reject) => method.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

const LEVEL = {
  [analyzerPb.EnforcementLevel.MANDATORY]: "mandatory",
  [analyzerPb.EnforcementLevel.ADVISORY]: "advisory",
} as Record<number, string>;

test("the running pack announces every rule with its level", async () => {
  const info = await unary<Empty, analyzerPb.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
  expect(info.getName()).toBe("cutover");
  const announced = info.getPoliciesList().map((p) => [p.getName(), LEVEL[p.getEnforcementlevel()]]);
  expect(announced).toEqual(POLICIES.map((p) => [p.name, p.enforcementLevel]));
});

test("the running pack refuses a Redis instance without AUTH", async () => {
  const redis = changed(compliantStack(), "avvivo-redis", "authEnabled", false).find(
    (r) => r.name === "avvivo-redis",
  )!;
  const request = new analyzerPb.AnalyzeRequest();
  request.setType(redis.type);
  request.setName(redis.name);
  request.setUrn(redis.urn);
  request.setProperties(Struct.fromJavaScript(redis.inputs as Record<string, never>));
  request.setOptions(new analyzerPb.AnalyzerResourceOptions());
  const response = await unary<analyzerPb.AnalyzeRequest, analyzerPb.AnalyzeResponse>(
    client.analyze,
    request,
  );
  const diagnostics = response.getDiagnosticsList();
  expect(diagnostics.map((d) => [d.getPolicyname(), LEVEL[d.getEnforcementlevel()]])).toEqual([
    ["redis-auth-enabled", "mandatory"],
  ]);
  expect(diagnostics[0].getMessage()).toContain("Memorystore instance avvivo-redis must require AUTH");
});

test("the running pack refuses split brain across the stack", async () => {
  const resources = changed(compliantStack(), "avvivo-service", "traffics", [
    target(STABLE, 50),
    target(CANDIDATE, 50),
  ]);
  const request = new analyzerPb.AnalyzeStackRequest();
  request.setResourcesList(
    resources.map((r) => {
      const resource = new analyzerPb.AnalyzerResource();
      resource.setType(r.type);
      resource.setName(r.name);
      resource.setUrn(r.urn);
      resource.setProperties(Struct.fromJavaScript(r.inputs as Record<string, never>));
      resource.setOptions(new analyzerPb.AnalyzerResourceOptions());
      if (r.parent !== undefined) resource.setParent(r.parent);
      return resource;
    }),
  );
  const response = await unary<analyzerPb.AnalyzeStackRequest, analyzerPb.AnalyzeResponse>(
    client.analyzeStack,
    request,
  );
  const names = response.getDiagnosticsList().map((d) => d.getPolicyname());
  expect(names).toEqual(["migration-no-split-brain", "migration-no-split-brain"]);
});
