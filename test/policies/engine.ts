import * as server from "@pulumi/policy/server";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import type { PlannedResource, PolicyFinding } from "../../policies/evaluate";
import type { CutoverPolicy } from "../../policies/support";

// The analyzer's own RPC handlers (what `pulumi preview --policy-pack` calls over gRPC), driven with
// real protobuf requests: the SDK's deserialization, unknown proxy and enforcement-level handling, no server.
type Callback = (err: unknown, response?: analyzerPb.AnalyzeResponse) => void;
type Rpc = (call: { request: unknown }, callback: Callback) => Promise<void>;
type MakeRpc = (pack: string, version: string, level: string, policies: readonly CutoverPolicy[]) => Rpc;
const { makeAnalyzeRpcFun, makeAnalyzeStackRpcFun } = server as unknown as {
  makeAnalyzeRpcFun: MakeRpc;
  makeAnalyzeStackRpcFun: MakeRpc;
};

function optionsOf(parent?: string): analyzerPb.AnalyzerResourceOptions {
  const options = new analyzerPb.AnalyzerResourceOptions();
  if (parent !== undefined) options.setParent(parent);
  return options;
}

function call(rpc: Rpc, request: unknown): Promise<analyzerPb.AnalyzeResponse> {
  return new Promise((resolve, reject) => {
    void rpc({ request }, (err, response) => (err ? reject(err) : resolve(response!)));
  });
}

/** Engine diagnostics as findings; the engine prefixes a rule's message with its description. */
function toFindings(
  response: analyzerPb.AnalyzeResponse,
  policies: readonly CutoverPolicy[],
  defaultUrn: string,
): PolicyFinding[] {
  return response.getDiagnosticsList().map((d) => {
    const description = policies.find((p) => p.name === d.getPolicyname())?.description ?? "";
    const message = d.getMessage();
    return {
      policy: d.getPolicyname(),
      level: d.getEnforcementlevel() === analyzerPb.EnforcementLevel.MANDATORY ? "mandatory" : "advisory",
      urn: d.getUrn() || defaultUrn,
      message: message.startsWith(`${description}\n`) ? message.slice(description.length + 1) : message,
    };
  });
}

/** What the engine reports for one resource (the per-resource `Analyze` call). */
export async function engineAnalyze(
  policies: readonly CutoverPolicy[],
  r: PlannedResource,
): Promise<PolicyFinding[]> {
  const request = new analyzerPb.AnalyzeRequest();
  request.setType(r.type);
  request.setName(r.name);
  request.setUrn(r.urn);
  request.setProperties(Struct.fromJavaScript(r.inputs as Record<string, never>));
  request.setOptions(optionsOf(r.parent));
  const rpc = makeAnalyzeRpcFun("cutover", "0.1.0", "advisory", policies);
  return toFindings(await call(rpc, request), policies, r.urn);
}

/** What the engine reports for the whole stack (the `AnalyzeStack` call at the end of a preview). */
export async function engineAnalyzeStack(
  policies: readonly CutoverPolicy[],
  resources: readonly PlannedResource[],
): Promise<PolicyFinding[]> {
  const request = new analyzerPb.AnalyzeStackRequest();
  request.setResourcesList(
    resources.map((r) => {
      const resource = new analyzerPb.AnalyzerResource();
      resource.setType(r.type);
      resource.setName(r.name);
      resource.setUrn(r.urn);
      resource.setProperties(Struct.fromJavaScript(r.inputs as Record<string, never>));
      resource.setOptions(optionsOf(r.parent));
      if (r.parent !== undefined) resource.setParent(r.parent);
      return resource;
    }),
  );
  const rpc = makeAnalyzeStackRpcFun("cutover", "0.1.0", "advisory", policies);
  return toFindings(await call(rpc, request), policies, "");
}

/** Everything the engine reports during a preview: each resource, then the stack. */
export async function engineFindings(
  policies: readonly CutoverPolicy[],
  resources: readonly PlannedResource[],
): Promise<PolicyFinding[]> {
  const perResource = await Promise.all(resources.map((r) => engineAnalyze(policies, r)));
  return [...perResource.flat(), ...(await engineAnalyzeStack(policies, resources))];
}
