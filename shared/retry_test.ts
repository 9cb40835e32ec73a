import assert from "node:assert/strict";
import { createLogger } from "./log.ts";
import {
  backoffMs,
  createRetryRounds,
  logRetry,
  retry,
  RetryError,
  type RetryInfo,
} from "./retry.ts";

const noWait = () => Promise.resolve();

Deno.test("backoffMs() doubles from baseMs up to capMs; jitter keeps half to all of the step", () => {
  const steps = [0, 1, 2, 3, 4, 5, 40].map((a) =>
    backoffMs(a, { baseMs: 100, capMs: 1000, jitter: false })
  );
  assert.deepEqual(steps, [100, 200, 400, 800, 1000, 1000, 1000]);
  assert.equal(backoffMs(2, { baseMs: 100, random: () => 0 }), 200);
  assert.equal(backoffMs(2, { baseMs: 100, random: () => 1 }), 400);
  assert.equal(
    backoffMs(1e9, { jitter: false }),
    30_000,
    "a huge attempt number stays at the default cap",
  );
});

Deno.test("retry() calls until it resolves, telling onRetry each failed attempt and its wait", async () => {
  const seen: RetryInfo[] = [];
  const waits: number[] = [];
  const result = await retry(async (attempt) => {
    if (attempt < 3) throw new Error(`down ${attempt}`);
    return await Promise.resolve("up");
  }, {
    jitter: false,
    onRetry: (info) => seen.push(info),
    sleep: (ms) => (waits.push(ms), Promise.resolve()),
  });
  assert.equal(result, "up");
  assert.deepEqual(seen.map((i) => [i.attempt, i.delayMs, (i.error as Error).message]), [
    [1, 100, "down 1"],
    [2, 200, "down 2"],
  ]);
  assert.deepEqual(waits, [100, 200]);
});

Deno.test("retry() stops after maxAttempts, at once on a non-retryable error, and on abort", async () => {
  let calls = 0;
  const failing = () => (calls++, Promise.reject(new Error("refused")));
  const gaveUp = await retry(failing, { maxAttempts: 3, sleep: noWait }).catch((e) => e);
  assert.ok(gaveUp instanceof RetryError);
  assert.equal(gaveUp.attempts, 3);
  assert.equal((gaveUp.cause as Error).message, "refused");
  assert.match(gaveUp.message, /^Retrying stopped after 3 attempts: refused$/);
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    retry(failing, { isRetryable: () => false, sleep: noWait }),
    /^Error: refused$/,
  );
  assert.equal(calls, 1, "not retried");

  calls = 0;
  const stop = new AbortController();
  stop.abort(new Error("stopping"));
  await assert.rejects(retry(failing, { signal: stop.signal, sleep: noWait }), /^Error: stopping$/);
  assert.equal(calls, 1, "the first attempt is always made");
  assert.equal(await retry(() => Promise.resolve(7), { signal: stop.signal }), 7);
});

Deno.test("retry() refuses invalid options with the option named", async () => {
  const ok = () => Promise.resolve(1);
  await assert.rejects(
    retry(ok, { baseMs: -1 }),
    /'baseMs' must be a finite number >= 0: current value is -1/,
  );
  await assert.rejects(retry(ok, { baseMs: 500, capMs: 100 }), /'capMs' must be >= 'baseMs'/);
  await assert.rejects(retry(ok, { maxAttempts: 0 }), /'maxAttempts' must be a positive integer/);
  await assert.rejects(retry(ok, { maxAttempts: 1.5 }), /'maxAttempts' must be a positive integer/);
});

Deno.test("logRetry() warns of the first three attempts, then once a minute, the rest at debug", () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service: "test",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  let t = 0;
  let counted = 0;
  const onRetry = logRetry(log, "append batch", () => counted++, { now: () => t });
  // An outage of 5 minutes, retried every 5 s (the bridge's cap).
  for (let attempt = 1; attempt <= 60; attempt++, t += 5000) {
    onRetry({ error: new Error("OOM"), attempt, delayMs: 5000 });
  }
  const warned = lines.filter((l) => l.level === "warn");
  assert.deepEqual(warned.map((l) => l.attempt), [1, 2, 3, 15, 27, 39, 51]);
  assert.ok(
    warned.every((l) => l.msg === "cannot append batch, retrying" && l.retry_in_ms === 5000),
  );
  assert.deepEqual((warned[0]!.error as { message: string }).message, "OOM");
  assert.equal(lines.filter((l) => l.level === "debug").length, 60 - 7);
  assert.equal(counted, 60, "every attempt is counted");
});

Deno.test("createRetryRounds() warns once per round for all the loops failing, then once a minute, then their end", () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ service: "test", write: (l) => lines.push(JSON.parse(l)) });
  let t = 0;
  const rounds = createRetryRounds(log, "store objects", { now: () => t });
  const keys = Array.from({ length: 38 }, (_, i) => `raw/logs/${i}`);
  // A full disk: 38 loops each fail three times in the first second (the first error is told).
  for (let attempt = 1; attempt <= 3; attempt++) {
    keys.forEach((k, i) =>
      rounds.failed(k, { error: new Error(`ENOSPC ${i}`), attempt, delayMs: 200 * attempt }, {
        what: "store object",
      })
    );
    rounds.report();
    t += 300;
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, "warn");
  assert.equal(lines[0]!.msg, "cannot store objects, retrying");
  assert.equal(lines[0]!.failing, 38);
  assert.equal(lines[0]!.attempts, 38);
  assert.equal(lines[0]!.what, "store object");
  assert.equal((lines[0]!.error as { message: string }).message, "ENOSPC 0");
  assert.deepEqual(lines[0]!.keys, keys.slice(0, 10));
  // Then every 10 s for three minutes: a warning a minute, with the attempts since the last.
  for (let s = 0; s <= 180; s += 10, t += 10_000) {
    keys.forEach((k) => rounds.failed(k, { error: new Error("ENOSPC"), attempt: 4, delayMs: 1e4 }));
    rounds.report();
  }
  const warned = lines.filter((l) => l.level === "warn");
  assert.equal(warned.length, 4);
  assert.equal(warned[1]!.attempts, 76 + 38 * 7);
  assert.equal(warned[3]!.attempts, 38 * 6);
  // Half the objects stored: still failing; all of them: one line at info.
  keys.slice(0, 19).forEach((k) => rounds.ended(k));
  t += 60_000;
  rounds.report();
  assert.equal(lines.length, 4, "nothing failed since the last line, nothing ended the outage");
  keys.slice(19).forEach((k) => rounds.ended(k));
  rounds.report();
  rounds.report();
  assert.equal(lines.length, 5);
  assert.equal(lines[4]!.level, "info");
  assert.equal(lines[4]!.msg, "can store objects again");
  assert.equal(lines[4]!.attempts, 38 * 3 + 38 * 19);
});
