/** The stack file's error, alone so that a command's `--help` need not load the YAML parser and the schema. */

/** Thrown for a missing or unreadable stack file; the message says which file and what to do. */
export class StackFileError extends Error {
  override name = "StackFileError";
}
