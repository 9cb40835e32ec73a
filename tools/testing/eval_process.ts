/**
 * A child `deno eval` process for tests that need a real process (real
 * signals, a parent that dies), its stdout read as text by the test.
 *
 * @module
 */

/** A running `deno eval` child and its stdout. */
export interface EvalProcess {
  readonly child: Deno.ChildProcess;
  /** Read stdout until what was read holds `text`, or stdout ends; all read so far. */
  readUntil(text: string): Promise<string>;
  /** Read stdout to its end; all read. */
  readAll(): Promise<string>;
  /** Stop reading stdout (stderr too when piped). */
  cancel(): Promise<void>;
}

/** Run `code` with `deno eval` (stderr: `piped` and discarded, or `inherit`). */
export function spawnEval(
  code: string,
  options: { cwd?: string; stderr?: "piped" | "inherit" } = {},
): EvalProcess {
  const stderr = options.stderr ?? "piped";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdout: "piped",
    stderr,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const readUntil = async (text: string | null) => {
    while (text === null || !out.includes(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    return out;
  };
  return {
    child,
    readUntil: (text) => readUntil(text),
    readAll: () => readUntil(null),
    async cancel() {
      await reader.cancel().catch(() => {});
      if (stderr === "piped") await child.stderr.cancel().catch(() => {});
    },
  };
}
