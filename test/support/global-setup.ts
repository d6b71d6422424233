// Runs once before the workers start: they inherit the registry's path through the environment.
import { newRegistry, REGISTRY_ENV } from "./servers";

export default function globalSetup(): void {
  process.env[REGISTRY_ENV] = newRegistry();
}
