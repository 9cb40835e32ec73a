/**
 * The pipeline against the real PostgreSQL and Redis: an anomaly stored by an
 * instance that stopped before publishing it, then resolved by the instance
 * that took the stream over, is published firing first, then resolved.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withStoreAndRedis } from "./_harness.ts";
import { Registry } from "@vigil/shared/metrics";
import type { Evaluator } from "../core/evaluator.ts";
import type { Firing, Resolution, RuleSink } from "../core/rules/types.ts";
import { createDetectorMetrics } from "../io/metrics.ts";
import { createPersistStage } from "../io/persist.ts";
import { createPipeline } from "../io/pipeline.ts";
import { createPublication } from "../io/publication.ts";
import { createPublisher } from "../io/publisher.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

const T = Date.parse("2026-01-01T00:00:00Z");
const X: Firing = {
  kind: "firing",
  id: "x1",
  rule: "error_spike",
  type: "logs",
  entity: "checkout",
  severity: "CRITICAL",
  eventTime: T,
  title: "errors",
  message: "errors",
  score: null,
  details: {},
  evidence: [{ id: "1-0", partition: 0, offset: "0" }],
  traceId: null,
  ingestTs: null,
};
const CLEARED: Resolution = {
  kind: "resolved",
  rule: X.rule,
  type: X.type,
  entity: X.entity,
  severity: X.severity,
  ids: [X.id],
  at: T + 60_000,
};

/** Rules that raise X on the first entry and clear it on the second. */
function evaluator(): Evaluator {
  return {
    kind: "logs",
    ruleNames: ["error_spike"],
    step(entry: { id: string }, sink: RuleSink) {
      sink.findings.push(entry.id === "1-0" ? X : CLEARED);
    },
    sweep() {},
    stateStats: () => [],
  } as unknown as Evaluator;
}

function delivery(id: string) {
  const data = JSON.stringify({ timestamp: new Date(T).toISOString(), service: "checkout" });
  return { id, fields: ["data", data], live: true, deliveries: 1 };
}

Deno.test(
  "pipeline: a resolution of an anomaly stored but never published goes out after its firing",
  opts,
  () =>
    withStoreAndRedis(async ({ redis, keys, store }) => {
      const log = silentLogger();
      // The previous lease holder stored X, then stopped before publishing it.
      await store.insert([X], "s");
      const publication = createPublication({
        publisher: await createPublisher({ redis, keys }),
        store,
        log,
      });
      const pipeline = createPipeline({
        type: "logs",
        stream: "s",
        evaluator: evaluator(),
        persist: createPersistStage({ store, log }),
        publication,
        checkpointer: {} as never,
        log,
        metrics: createDetectorMetrics(new Registry()),
      });
      // This instance gets the entry again (X exists: nothing new), then the one that clears it.
      const signal = AbortSignal.timeout(30_000);
      await pipeline.process([delivery("1-0")], signal);
      await pipeline.process([delivery("1-1")], signal);
      await publication.flush();

      const entries = await redis.xrange(keys.alerts(), "-", "+") as [string, string[]][];
      const statuses = entries.map(([, f]) => JSON.parse(f[1]!).status);
      assert.deepEqual(statuses, ["firing", "resolved"]);
      const left = await store.unpublished(10);
      assert.deepEqual([left.firing.length, left.resolved.length], [0, 0]);
    }),
);
