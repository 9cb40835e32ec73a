/**
 * Test support: run Vigil services as real subprocesses, with exactly the
 * permission flags of their `deno task` line in deno.json, and read their
 * JSON log lines.
 *
 * @module
 */

import { DIE_WITH_PARENT, readTaskCommand } from "../dev/tasks.ts";

/** Repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Run `deno <args>` in the repository (no colour) and wait: its exit code and all it printed. */
export async function runDeno(args: readonly string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

/** `deno run …` arguments of a task in deno.json (without the leading `deno`). */
export async function taskArgs(task: string): Promise<string[]> {
  const line = await readTaskCommand(`${ROOT}deno.json`, task);
  if (!line) throw new Error(`Cannot find task "${task}" in deno.json`);
  const words = line.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`Cannot run task "${task}": not a plain "deno run" line`);
  }
  return words.slice(1);
}

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** A running service. */
export interface ServiceProcess {
  readonly name: string;
  /** The process id (the deno process itself: no shell in between). */
  readonly pid: number;
  /** JSON log lines so far (non-JSON output is kept as `{ msg: "<raw>", raw: true }`). */
  lines(): LogLine[];
  /** Wait for a log line matching `match`; throws with the recent output on timeout or exit. */
  waitForLine(match: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** The ops server port, from its "ops server listening" line. */
  opsPort(timeoutMs?: number): Promise<number>;
  /** Exit status (resolves when the process ends). */
  readonly status: Promise<Deno.CommandStatus>;
  /**
   * Send `signal` (SIGKILL, SIGSTOP…) and wait for exit, unless it only
   * pauses, resumes or asks for a reload (SIGSTOP, SIGCONT, SIGHUP).
   */
  kill(signal: Deno.Signal): Promise<Deno.CommandStatus | undefined>;
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
  /** The last lines, for assertion messages. */
  tail(n?: number): string;
}

/**
 * Spawn `deno task <task>`'s command line with `env` and extra program
 * arguments. `options.allowRead` adds paths to the task's `--allow-read=`
 * list (a test's own files, e.g. a rules file in a temporary folder).
 * `options.denoFlags` go before the script (e.g. `--cpu-prof`). `options.stdin`
 * is piped to its standard input (else it has none).
 */
export async function spawnService(
  task: string,
  env: Record<string, string>,
  args: string[] = [],
  options: {
    allowRead?: string[];
    denoFlags?: string[];
    stdin?: ReadableStream<Uint8Array>;
  } = {},
): Promise<ServiceProcess> {
  const extra = options.allowRead ?? [];
  const [run, ...rest] = (await taskArgs(task)).map((a) =>
    extra.length > 0 && a.startsWith("--allow-read=") ? `${a},${extra.join(",")}` : a
  );
  // A test or benchmark that dies (an uncaught error, SIGKILL) takes its services with it.
  const [command, ...prefix] = [...DIE_WITH_PARENT, Deno.execPath()];
  const child = new Deno.Command(command!, {
    args: [...prefix, run!, ...(options.denoFlags ?? []), ...rest, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A service that exits before reading it all closes the pipe: not the test's error.
  options.stdin?.pipeTo(child.stdin).catch(() => {});
  const lines: LogLine[] = [];
  let exited = false;
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      rest += decoder.decode(bytes, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) {
        if (!p.trim()) continue;
        try {
          lines.push(JSON.parse(p) as LogLine);
        } catch {
          lines.push({ msg: p, raw: true });
        }
      }
    }
    if (rest.trim()) lines.push({ msg: rest, raw: true });
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const status = child.status.then(async (s) => {
    exited = true;
    await drained;
    return s;
  });
  const tail = (n = 30) => lines.slice(-n).map((l) => JSON.stringify(l)).join("\n");
  const waitForLine = async (match: (l: LogLine) => boolean, what: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(match);
      if (found) return found;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `${task}: ${exited ? "exited" : "timed out"} waiting for ${what}. Output:\n${tail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    name: task,
    pid: child.pid,
    lines: () => lines,
    waitForLine,
    async opsPort(timeoutMs) {
      const l = await waitForLine(
        (l) => /listening/.test(String(l.msg)) && typeof l.port === "number",
        "its HTTP server",
        timeoutMs,
      );
      return l.port as number;
    },
    status,
    async kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      return ["SIGSTOP", "SIGCONT", "SIGHUP"].includes(signal) ? undefined : await status;
    },
    async stop(graceMs = 10_000) {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, graceMs);
        try {
          return await status;
        } finally {
          clearTimeout(timer);
        }
      }
      return await status;
    },
    tail,
  };
}

/** GET a URL's text, or undefined when it fails. */
export async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url);
    const text = await res.text();
    return res.ok ? text : undefined;
  } catch {
    return undefined;
  }
}
