/**
 * The entry point of the offline tools (`backtest`, `validate:stats`, the
 * reports): a failure is one line, `<tool> failed: <reason>`, and exit code
 * 1, never an uncaught error's stack trace.
 *
 * @module
 */
import { z } from "zod";
import { formatZodError } from "@vigil/shared/schemas/event";

/** The reason an error gives, on one line (a zod error as its issues, not its JSON). */
export function reasonOf(error: unknown): string {
  if (error instanceof z.ZodError) return formatZodError(error);
  return error instanceof Error ? error.message : String(error);
}

/**
 * Throws a clear error, before any work, when this process may not write
 * `dir` (a task grants only some folders, and Deno's own error names a flag
 * the user of `deno task` cannot pass).
 *
 * @param hint where the command may write (`under test-output/`)
 */
export function assertWritable(dir: string, hint: string): void {
  if (Deno.permissions.querySync({ name: "write", path: dir }).state !== "granted") {
    throw new Error(`cannot write ${dir}: this command writes only ${hint}`);
  }
}

/** Run `main` and exit with its code, or print `<name> failed: <reason>` and exit 1. */
export async function runTool(name: string, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    await Deno.stderr.write(new TextEncoder().encode(`${name} failed: ${reasonOf(error)}\n`));
    code = 1;
  }
  Deno.exit(code);
}
