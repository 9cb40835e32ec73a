/**
 * The outbox recovery against the real PostgreSQL and Redis: an alert's
 * firing is appended to the alerts stream before its resolution, even when
 * the backlog takes several passes.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { withStoreAndRedis } from "./_harness.ts";
import type { Firing, Resolution } from "../core/rules/types.ts";
import { createPublication } from "../io/publication.ts";
import { createPublisher } from "../io/publisher.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function firing(i: number): Firing {
  return {
    kind: "firing",
    id: `a${String(i).padStart(4, "0")}`,
    rule: "error_spike",
    type: "logs",
    entity: `svc-${i}`,
    severity: "CRITICAL",
    eventTime: 1_700_000_000_000 + i,
    title: "errors",
    message: "errors",
    score: null,
    details: {},
    evidence: [{ id: `1-${i}`, partition: 0, offset: String(i) }],
    traceId: null,
    ingestTs: null,
  };
}

Deno.test(
  "recover: with a backlog past one pass, no resolution is published before its firing",
  opts,
  () =>
    withStoreAndRedis(async ({ redis, keys, store }) => {
      // A batch whose publication never happened (Redis down, then a restart): 700 anomalies
      // stored in one statement (same detected_at), the last 100 resolved by the same batch.
      const firings = Array.from({ length: 700 }, (_, i) => firing(i));
      await store.insert(firings, "vigil:events:logs:0");
      const resolutions: Resolution[] = firings.slice(600).map((f) => ({
        kind: "resolved",
        rule: f.rule,
        type: f.type,
        entity: f.entity,
        severity: f.severity,
        ids: [f.id],
        at: f.eventTime + 1000,
      }));
      await store.resolve(resolutions);

      const publisher = await createPublisher({ redis, keys });
      const publication = createPublication({ publisher, store, log: silentLogger() });
      const published = await publication.recover(AbortSignal.timeout(60_000));
      assert.equal(published, 800);

      const entries = await redis.xrange(keys.alerts(), "-", "+") as [string, string[]][];
      const seen = new Map<string, string[]>();
      for (const [, fields] of entries) {
        const a = JSON.parse(fields[fields.indexOf("alert") + 1]!) as {
          id: string;
          status: string;
        };
        seen.set(a.id, [...(seen.get(a.id) ?? []), a.status]);
      }
      assert.equal(seen.size, 700);
      const wrong = [...seen].filter(([id, s]) =>
        s.join() !== (Number(id.slice(1)) >= 600 ? "firing,resolved" : "firing")
      );
      assert.deepEqual(wrong, [], "each alert: firing, then its resolution");
      const left = await store.unpublished(1000);
      assert.deepEqual([left.firing.length, left.resolved.length], [0, 0]);
    }),
);
