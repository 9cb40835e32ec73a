/**
 * Reading `deno task` entries of a deno.json: a task is either a command
 * string or, as every Vigil task is, `{ "description", "command" }`.
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
