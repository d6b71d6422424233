import { IRREVERSIBLE_MARKER } from "../../contract/facts";
import { labelChanges } from "../../tooling/change-labels";
import { diffSyntheses } from "../../tooling/plan-diff";
import type { RecordedResource } from "../../tooling/synth";

const res = (type: string, name: string, inputs: Record<string, unknown> = {}): RecordedResource => ({
  type,
  name,
  urn: `urn:pulumi:prod::cutover::${type}::${name}`,
  custom: true,
  inputs,
  secretPaths: [],
  protect: false,
  ignoreChanges: [],
  dependencies: [],
});

const SQL = "gcp:sql/databaseInstance:DatabaseInstance";
const DMS = "gcp:databasemigrationservice/migrationJob:MigrationJob";
const RUN = "gcp:cloudrunv2/service:Service";
const DYN = "pulumi-nodejs:dynamic:Resource";
const IAM = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember";
const JOB = "gcp:cloudrunv2/job:Job";

describe("labelChanges: what undoing each change costs", () => {
  const before = [
    res(SQL, "old-sql", { name: "old" }),
    res(DMS, "job", { migrationJobId: "a1" }),
    res(RUN, "svc", { name: "api", traffics: [{ percent: 10 }] }),
    res(IAM, "public"),
    res(SQL, "renamed-sql", { name: "x" }),
    res(DMS, "rejob", { migrationJobId: "a1" }),
    res(JOB, "rerun", { runExecutionToken: "t1" }),
  ];
  const after = [
    res(RUN, "svc", { name: "api", traffics: [{ percent: 50 }] }),
    res(SQL, "new-sql", { name: "new" }),
    res(DYN, "promotion", { [IRREVERSIBLE_MARKER]: "promotes for good" }),
    res(IAM, "other"),
    res(SQL, "renamed-sql", { name: "y" }),
    res(DMS, "rejob", { migrationJobId: "a2" }),
    res(JOB, "migrate", { runExecutionToken: "t1" }),
    res(JOB, "idle", {}),
    res(JOB, "rerun", { runExecutionToken: "t2" }),
  ];
  const labels = labelChanges(diffSyntheses(before, after));
  const of = (name: string, op: string) => labels.find((l) => l.name === name && l.op === op);

  it("deleting or replacing a stateful resource is irreversible", () => {
    expect(of("old-sql", "delete")?.label).toBe("irreversible");
    expect(of("renamed-sql", "replace")).toMatchObject({ label: "irreversible", paths: ["name"] });
  });

  it("creating what carries the irreversible marker is irreversible, with the marker's words", () => {
    expect(of("promotion", "create")).toMatchObject({ label: "irreversible", why: "promotes for good" });
  });

  it("a job the provider runs when its token is set or changed is irreversible; an idle job is not", () => {
    expect(of("migrate", "create")).toMatchObject({ label: "irreversible" });
    expect(of("migrate", "create")!.why).toContain("executes the job when runExecutionToken is set");
    expect(of("rerun", "update")!.label).toBe("irreversible");
    expect(of("idle", "create")!.label).toBe("reversible by config");
  });

  it("re-creating what is slow or serving costs: a DMS job copies again, a new stateful resource bills", () => {
    expect(of("job", "delete")).toMatchObject({ label: "reversible with cost" });
    expect(of("job", "delete")!.why).toContain("copies every table again");
    expect(of("rejob", "replace")!.label).toBe("reversible with cost");
    expect(of("new-sql", "create")!.label).toBe("reversible with cost");
  });

  it("in-place updates and plain resources are reversible by config", () => {
    expect(of("svc", "update")).toMatchObject({
      label: "reversible by config",
      paths: ["traffics[0].percent"],
    });
    expect(of("public", "delete")!.label).toBe("reversible by config");
    expect(of("other", "create")!.label).toBe("reversible by config");
  });

  it("orders the costliest first", () => {
    const rank = labels.map((l) =>
      ["irreversible", "reversible with cost", "reversible by config"].indexOf(l.label),
    );
    expect([...rank].sort((a, b) => a - b)).toEqual(rank);
    expect(labels).toHaveLength(12);
  });
});
