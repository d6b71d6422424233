// Runs once after every test file: a server a test started and did not stop fails the run.
import { reapSurvivors, REGISTRY_ENV } from "./servers";

export default function globalTeardown(): void {
  const file = process.env[REGISTRY_ENV];
  if (!file) return;
  const survivors = reapSurvivors(file);
  if (survivors.length > 0)
    throw new Error(
      `${survivors.length} test server(s) outlived the run (now killed): ` +
        survivors.map((s) => `${s.kind} pid ${s.pid} started by ${s.by}`).join("; ") +
        "; hint: stop every server in afterAll/afterEach, also when a test fails",
    );
}
