import assert from "node:assert/strict";
import { spawnEval } from "@vigil/tools/testing/eval_process";
import {
  ABORTED,
  REPEATED_SIGNAL_MS,
  runCleanups,
  signalSeries,
  untilAborted,
} from "./lifecycle.ts";
import { createLogger } from "./log.ts";

/**
 * A child process with a lifecycle whose cleanup takes 1.5 s, sent SIGINT
 * twice, the second `gapMs` after the child logged the first (real signals: what a terminal's Ctrl-C and `deno task`
 * forwarding it do). Its exit code and log.
 */
async function interruptTwice(gapMs: number): Promise<{ code: number; out: string }> {
  const lifecycle = new URL("./lifecycle.ts", import.meta.url).href;
  const log = new URL("./log.ts", import.meta.url).href;
  const code = `
    const { createLifecycle } = await import(${JSON.stringify(lifecycle)});
    const { createLogger } = await import(${JSON.stringify(log)});
    const lc = createLifecycle({ log: createLogger({ service: "t" }), forceAfterMs: 5000 });
    lc.onShutdown("slow", () => new Promise((r) => setTimeout(r, 1500)));
    const held = setInterval(() => {}, 1000);
    lc.onShutdown("timer", () => clearInterval(held));
    console.log("ready");
  `;
  const proc = spawnEval(code);
  await proc.readUntil("ready");
  proc.child.kill("SIGINT");
  // The second goes once the first was taken: two SIGINTs pending together (the child not
  // scheduled between them, a loaded machine) are one to the kernel, and the child saw one.
  await proc.readUntil('"msg":"shutting down"');
  await new Promise((r) => setTimeout(r, gapMs));
  proc.child.kill("SIGINT");
  const out = await proc.readAll();
  const status = await proc.child.status;
  await proc.cancel();
  return { code: status.code, out };
}

Deno.test("a SIGINT repeated at once (terminal + deno task) still drains and stops cleanly", async () => {
  const { code, out } = await interruptTwice(5);
  assert.equal(code, 0, out);
  assert.match(out, /signal delivered twice/);
  assert.match(out, /"msg":"stopped"/);
  assert.doesNotMatch(out, /forcing exit/);
});

Deno.test("a second SIGINT after the first one's moment forces the exit", async () => {
  const { code, out } = await interruptTwice(REPEATED_SIGNAL_MS + 200);
  assert.equal(code, 130, out);
  assert.match(out, /second signal, forcing exit/);
  assert.doesNotMatch(out, /"msg":"stopped"/);
});

Deno.test("a process stopped while a start step still waits (a client reconnecting for ever) exits", async () => {
  // The detector and the notifier with REDIS_URL out of reach logged "stopped" on SIGTERM and
  // ran on until killed: the step waiting for Redis kept its client's reconnect timer going.
  const lifecycle = new URL("./lifecycle.ts", import.meta.url).href;
  const log = new URL("./log.ts", import.meta.url).href;
  const proc = spawnEval(`
    const { createLifecycle } = await import(${JSON.stringify(lifecycle)});
    const { createLogger } = await import(${JSON.stringify(log)});
    createLifecycle({ log: createLogger({ service: "t" }), exitAfterStopMs: 300 });
    setInterval(() => {}, 100); // the reconnect loop nobody stops
    console.log("ready");
    await new Promise(() => {}); // the start step that never returns
  `);
  try {
    await proc.readUntil("ready");
    proc.child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      proc.child.status.then((s) => s.code),
      new Promise<string>((r) => timer = setTimeout(() => r("still running after 10 s"), 10_000)),
    ]).finally(() => clearTimeout(timer));
    if (typeof code === "string") proc.child.kill("SIGKILL");
    const out = await proc.readAll();
    assert.equal(code, 0, out);
    assert.match(out, /"msg":"stopped"/);
    assert.match(out, /a step still waiting held the process: exiting/);
  } finally {
    await proc.cancel();
  }
});

Deno.test("runCleanups() runs every step in order, logging the one that fails", async () => {
  const lines: string[] = [];
  const log = createLogger({ service: "t", write: (line) => lines.push(line) });
  const ran: string[] = [];
  await runCleanups(log, [
    ["a", () => ran.push("a")],
    ["b", () => Promise.reject(new Error("refused"))],
    ["c", () => ran.push("c")],
  ]);
  assert.deepEqual(ran, ["a", "c"]);
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.deepEqual([line.level, line.msg, line.step], ["warn", "cleanup failed", "b"]);
  assert.match(JSON.stringify(line.error), /refused/);
});

Deno.test("signalSeries() tells the first signal, a repeated delivery and a second request apart", () => {
  let t = 0;
  const next = signalSeries(() => t);
  assert.equal(next(), "first");
  t = REPEATED_SIGNAL_MS - 1;
  assert.equal(next(), "repeated");
  t = REPEATED_SIGNAL_MS;
  assert.equal(next(), "second");
});

Deno.test("untilAborted() answers the value, or ABORTED once the signal aborts, before or while waiting", async () => {
  assert.equal(await untilAborted(Promise.resolve(7), new AbortController().signal), 7);
  const ac = new AbortController();
  const never = Promise.withResolvers<number>();
  const waiting = untilAborted(never.promise, ac.signal);
  ac.abort();
  assert.equal(await waiting, ABORTED);
  assert.equal(await untilAborted(never.promise, ac.signal), ABORTED, "already aborted");
  never.reject(new Error("late failure")); // observed: not an unhandled rejection
  await assert.rejects(untilAborted(Promise.reject(new Error("x")), new AbortController().signal));
});
