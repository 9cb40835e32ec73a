import assert from "node:assert/strict";
import { execScripted, isNoScript, redisScript } from "./redis_script.ts";

Deno.test("redisScript() names the script by its SHA-1, as EVALSHA does", () => {
  // SHA-1 of "return 1", as `redis-cli SCRIPT LOAD "return 1"` prints it.
  assert.equal(redisScript("return 1", 0).sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
});

Deno.test("execScripted() runs the calls again with their sources only after NOSCRIPT", async () => {
  const runs: boolean[] = [];
  const pipe = (replies: [Error | null, unknown][]) => () => ({
    exec: () => Promise.resolve(replies),
  });
  const noScript = new Error("NOSCRIPT No matching script. Please use EVAL.");
  let first = true;
  const replies = await execScripted(
    () => (first ? (first = false, pipe([[noScript, null]])()) : pipe([[null, 1]])()),
    (_p, withSource) => runs.push(withSource),
  );
  assert.deepEqual(runs, [false, true]);
  assert.deepEqual(replies, [[null, 1]]);
  assert.ok(isNoScript([noScript, null]) && !isNoScript([null, 1]) && !isNoScript(undefined));
  runs.length = 0;
  await execScripted(pipe([[new Error("WRONGTYPE"), null]]), (_p, w) => runs.push(w));
  assert.deepEqual(runs, [false], "other errors are the caller's");
});
