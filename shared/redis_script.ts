/**
 * Lua scripts called by their SHA-1 inside pipelines, with the source sent
 * again only to a node that answers NOSCRIPT (restarted, new, `SCRIPT FLUSH`).
 *
 * Not ioredis' `defineCommand`: in a pipeline it sends EVAL with the whole
 * script on every call (it remembers loaded scripts per socket, but each
 * pipeline gets a fresh writer), which for the bridge's 4.6 KB append script
 * was a third of its CPU on a steady stream.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A script and its SHA-1, as EVALSHA names it. */
export interface RedisScript {
  readonly lua: string;
  readonly sha: string;
  /** How many of a call's arguments are keys. */
  readonly numKeys: number;
}

/** Describe `lua`, whose first `numKeys` arguments are keys. */
export function redisScript(lua: string, numKeys: number): RedisScript {
  return { lua, sha: createHash("sha1").update(lua).digest("hex"), numKeys };
}

/** The script commands of an ioredis pipeline. */
export interface ScriptPipeline {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): unknown;
  eval(lua: string, numKeys: number, ...args: (string | number)[]): unknown;
}

/** Add a call of `script` (keys first in `args`): by its SHA, or with its source. */
export function addScriptCall(
  p: ScriptPipeline,
  script: RedisScript,
  args: readonly (string | number)[],
  withSource: boolean,
): void {
  if (withSource) p.eval(script.lua, script.numKeys, ...args);
  else p.evalsha(script.sha, script.numKeys, ...args);
}

/** Is this pipeline reply Redis' NOSCRIPT error? */
export function isNoScript(reply: [Error | null, unknown] | undefined): boolean {
  return reply?.[0] instanceof Error && reply[0].message.startsWith("NOSCRIPT");
}

/**
 * Fill a fresh pipeline (script calls by SHA) and run it; when a reply is
 * NOSCRIPT, fill and run a second pipeline with the sources. Only for calls
 * that may run twice (idempotent scripts and writes). Replies in order, as
 * ioredis gives them.
 */
export async function execScripted<P extends { exec(): Promise<[Error | null, unknown][] | null> }>(
  newPipeline: () => P,
  fill: (p: P, withSource: boolean) => void,
): Promise<[Error | null, unknown][]> {
  const run = async (withSource: boolean) => {
    const p = newPipeline();
    fill(p, withSource);
    return (await p.exec()) ?? [];
  };
  const replies = await run(false);
  return replies.some(isNoScript) ? await run(true) : replies;
}
