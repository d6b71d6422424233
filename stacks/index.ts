// Entry point of the Pulumi program (Pulumi.yaml `main: stacks/`): Pulumi awaits the exported function
// and records what it returns as stack outputs.
import { program } from "./program";

export = program;
