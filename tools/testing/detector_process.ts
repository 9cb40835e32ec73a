/**
 * Run `detector/main.ts` as a real subprocess with the production permission
 * flags (the same as `deno task detector` should use).
 *
 * @module
 */

/** Repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** The flags of `deno task detector` (root deno.json): permissions and V8 tuning. */
export const DETECTOR_FLAGS = [
  "--allow-net",
  "--allow-env",
  "--allow-read=detector/rules.json,shared/migrations,shared/lua",
  "--allow-sys=hostname,osRelease",
  // Not a permission: V8 grows the heap less before a full GC (RSS ≤ 300 MB
  // with 100,000 users in windows; see "Detector" in README.md).
  "--v8-flags=--heap-growing-percent=50",
];

/** A detector subprocess. */
export interface DetectorProcess {
  child: Deno.ChildProcess;
  /** Last log lines (stdout + stderr). */
  output(): string;
  kill(signal: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Spawn the detector with `env` added to the environment. */
export function spawnDetector(env: Record<string, string>): DetectorProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...DETECTOR_FLAGS, "detector/main.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      for (const line of decoder.decode(chunk).split("\n")) if (line) lines.push(line);
      if (lines.length > 400) lines.splice(0, lines.length - 300);
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  return {
    child,
    output: () => lines.join("\n"),
    async kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      const status = await child.status;
      await drained;
      return status;
    },
  };
}
