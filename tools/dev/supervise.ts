/**
 * What the dev runner (dev_main.ts) does when one of its processes exits: start it again after
 * a delay (a crash, an out-of-memory kill, kill -9), or not (a clean exit, a configuration
 * error, the dev Kafka, the runner stopping), and the line it prints. Pure, so it is tested
 * without running a stack.
 *
 * @module
 */

/** How a process ended (`Deno.CommandStatus`'s fields the decision reads). */
export interface ExitStatus {
  code: number;
  signal: string | null;
}

/** The decision: the line to print and whether to start the process again. */
export interface ExitPlan {
  line: string;
  restart: boolean;
}

/**
 * The plan for process `name` that ended with `status`; `stopping`: the runner is stopping;
 * `delayMs`: the wait before a restart.
 */
export function exitPlan(
  name: string,
  status: ExitStatus,
  options: { stopping: boolean; delayMs: number },
): ExitPlan {
  const how = `${name} exited with code ${status.code}${
    status.signal ? ` (${status.signal})` : ""
  }`;
  if (options.stopping || name === "kafka" || (status.code === 0 && !status.signal)) {
    return { line: `[dev] ${how}`, restart: false };
  }
  if (status.code === 2) {
    return {
      line: `[dev] ${how}: its configuration is wrong (its lines above say what to fix); ` +
        "not restarted: fix it, then stop this runner (Ctrl-C) and start it again",
      restart: false,
    };
  }
  return { line: `[dev] ${how}; starting it again in ${options.delayMs / 1000} s`, restart: true };
}
