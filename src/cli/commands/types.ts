/**
 * The shape of a CLI command: a name, a one-line summary, a usage text, and `run`.
 */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<void>;
}
