/**
 * The batcher under an alert storm: its work grows with the alerts held, not
 * with their square (a digest of 40,000 held alerts blocked the notifier's
 * loop for 5 s while every WARNING was compared with every CRITICAL).
 */
import assert from "node:assert/strict";
import { type BatcherOptions, emptyState, ingest, nextDueAt, tick } from "./batcher.ts";
import type { Route } from "./routes.ts";
import { alert, item, ROUTE, T0 } from "./_batcher_testing.ts";

const ONE_GROUP: Route = { ...ROUTE, groupBy: [] };
const OPTS: BatcherOptions = { routes: [ONE_GROUP] };

Deno.test("tick() inhibits 40,000 held alerts in well under a second", () => {
  const n = 40_000;
  const items = Array.from({ length: n }, (_, i) =>
    item(alert({
      id: `s${i}`,
      // Half the WARNINGs share the entity of a CRITICAL, half have none firing.
      entity: i < n / 2 ? `svc${i}` : i < (3 * n) / 4 ? `svc${i - n / 2}` : `other${i}`,
      severity: i < n / 2 ? "CRITICAL" : "WARNING",
    })));
  const r = ingest(emptyState(), items, T0, OPTS);
  const due = nextDueAt(r.state, OPTS)!;
  const started = performance.now();
  const t = tick(r.state, due, OPTS);
  const ms = performance.now() - started;
  assert.equal(t.settled.filter((s) => s.disposition === "inhibited").length, n / 4);
  assert.equal(t.digests.length, 1);
  assert.equal(t.digests[0]!.alerts.length, (3 * n) / 4);
  assert.ok(ms < 1000, `tick took ${ms.toFixed(0)} ms`);
});
