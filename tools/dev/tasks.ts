/**
 * Reading `deno task` entries of a deno.json: a task is either a command
 * string or, as every Vigil task is, `{ "description", "command" }`. And
 * what the runners of those commands share (the dev runner, the tests' and
 * benchmarks' service processes): {@link DIE_WITH_PARENT}.
 *
 * @module
 */

/** A `tasks` value of deno.json. */
export type TaskEntry = string | { description?: string; command?: string };

/** The command line of task `name`, or undefined when there is none. */
export function taskCommand(
  tasks: Record<string, TaskEntry> | undefined,
  name: string,
): string | undefined {
  const entry = tasks?.[name];
  if (typeof entry === "string") return entry;
  return typeof entry?.command === "string" ? entry.command : undefined;
}

/** The task command of `name` in the deno.json at `path`. */
export async function readTaskCommand(path: string, name: string): Promise<string | undefined> {
  const json = JSON.parse(await Deno.readTextFile(path)) as { tasks?: Record<string, TaskEntry> };
  return taskCommand(json.tasks, name);
}

/** The first of `paths` that is a file. */
export function which(...paths: string[]): string | undefined {
  return paths.find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

const SETPRIV = which("/usr/bin/setpriv", "/bin/setpriv");

/**
 * The command prefix that makes a child get SIGTERM from the kernel when its
 * parent dies, however it dies (`setpriv --pdeathsig TERM`, util-linux; it
 * execs, so the pid stays the child's). Empty without setpriv.
 */
export const DIE_WITH_PARENT: readonly string[] = SETPRIV ? [SETPRIV, "--pdeathsig", "TERM"] : [];
