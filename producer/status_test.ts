import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { createStatusReporter, formatStatusLine, type StatusSnapshot } from "./status.ts";

const snap = (sent: number): StatusSnapshot => ({
  sent,
  errors: 1,
  pending: 2,
  scenarios: 3,
  byTopic: { logs: sent - 10, metrics: 4, transactions: 6 },
});

Deno.test("formatStatusLine() shows sent, rate, errors and per-topic counts", () => {
  assert.equal(
    formatStatusLine(snap(12_345), 199.6),
    "sent 12,345 | 200/s | errors 1 | logs 12,335 metrics 4 transactions 6 | pending 2 | scenarios 3",
  );
});

Deno.test("createStatusReporter() logs JSON progress every interval without a terminal", () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ service: "t", write: (l) => lines.push(JSON.parse(l)) });
  let t = 0;
  const written: string[] = [];
  const r = createStatusReporter({
    output: { isTerminal: false, write: (s) => written.push(s) },
    log,
    now: () => t,
  });
  t = 1000;
  r.update(snap(200));
  assert.equal(lines.length, 0);
  t = 5000;
  r.update(snap(1000));
  t = 10_000;
  r.finish(snap(2000));
  assert.deepEqual(lines.map((l) => [l.msg, l.sent, l.rate_per_s]), [
    ["progress", 1000, 200],
    ["finished", 2000, 200],
  ]);
  assert.deepEqual(lines[0]!.by_topic, { logs: 990, metrics: 4, transactions: 6 });
  assert.deepEqual(written, []);
});
