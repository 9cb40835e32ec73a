import assert from "node:assert/strict";
import type postgres from "postgres";
import { createLogger } from "@vigil/shared/log";
import { acquireInstanceLock } from "./instance_lock.ts";

Deno.test("acquireInstanceLock() with PostgreSQL down warns three times, then at most once a minute", async () => {
  // Every 2 s poll warned: 30 lines in a one-minute outage.
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({
    service: "t",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  const down = Object.assign(() => Promise.reject(new Error("connect ECONNREFUSED")), {
    end: () => Promise.resolve(),
  }) as unknown as postgres.Sql;
  const stop = new AbortController();
  const waiting = acquireInstanceLock(() => down, { log, signal: stop.signal, pollMs: 1 });
  while (lines.length < 20) await new Promise((r) => setTimeout(r, 5));
  stop.abort();
  await waiting.catch(() => {});
  const failures = lines.filter((l) => l.msg === "cannot take the notifier lock, retrying");
  assert.ok(failures.length >= 20);
  assert.equal(failures.filter((l) => l.level === "warn").length, 3);
});
