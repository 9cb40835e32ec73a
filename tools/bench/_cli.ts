/**
 * Bench helper: the `--name=value` arguments of a bench and its output line.
 *
 * @module
 */

/** `--name=value` arguments as a record (a value may hold "="; a bare `--flag` is ""). */
export function parseArgs(argv: readonly string[]): Record<string, string> {
  return Object.fromEntries(argv.map((a) => {
    const [name, ...value] = a.replace(/^--/, "").split("=");
    return [name!, value.join("=")];
  }));
}

/** This bench's arguments. */
export const args: Readonly<Record<string, string>> = parseArgs(Deno.args);

/** The number argument `name`, or `fallback` when it is absent or empty. */
export function numberArg(name: string, fallback: number): number {
  const value = args[name];
  return value === undefined || value === "" ? fallback : Number(value);
}

const encoder = new TextEncoder();

/** Write `line` to stdout at once. */
export function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}
