/**
 * `POST /api/anomalies/:id/ack` twice: the first acknowledgement stands. A
 * second one (a stale page, a colleague at the same moment) answers 409 with
 * the anomaly as acknowledged, instead of silently replacing who and why.
 * The acknowledgement reaches the live streams of every web instance.
 */
import assert from "node:assert/strict";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "@vigil/tools/testing/log";
import { insertAnomalies, sendJson, withWebApp } from "./_helpers.ts";
import { SseReader, waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };

Deno.test(
  "a second acknowledgement answers 409 with the first, which stays (sequential and concurrent)",
  opts,
  async () => {
    await withWebApp(async ({ app, sql }) => {
      const now = new Date();
      await insertAnomalies(sql, [{ id: "k1", detected_at: now }, { id: "k2", detected_at: now }]);
      const first = await sendJson(app, "POST", "/api/anomalies/k1/ack", {
        by: "alice",
        comment: "on it",
      }, AUTH);
      assert.equal(first.status, 200);
      const second = await sendJson(app, "POST", "/api/anomalies/k1/ack", {
        by: "bob",
        comment: "mine now",
      }, AUTH);
      assert.equal(second.status, 409);
      const body = second.body as { error: string; anomaly: Record<string, string> };
      assert.match(body.error, /already acknowledged by "alice" at /);
      assert.equal(body.anomaly.acknowledged_by, "alice");
      assert.equal(body.anomaly.ack_comment, "on it");
      assert.equal(
        body.anomaly.acknowledged_at,
        (first.body.anomaly as { acknowledged_at: string }).acknowledged_at,
      );
      // The same acknowledgement again (a retry whose answer was lost): 200, unchanged.
      const again = await sendJson(app, "POST", "/api/anomalies/k1/ack", {
        by: "alice",
        comment: "on it",
      }, AUTH);
      assert.equal(again.status, 200);
      assert.equal(
        (again.body.anomaly as { acknowledged_at: string }).acknowledged_at,
        (first.body.anomaly as { acknowledged_at: string }).acknowledged_at,
      );
      const [kept] = await sql`
        SELECT acknowledged_by, ack_comment FROM anomaly_events WHERE id = 'k1'`;
      assert.deepEqual({ ...kept }, { acknowledged_by: "alice", ack_comment: "on it" });

      // Two at the same moment: one wins, the other is told who.
      const both = await Promise.all(
        ["carol", "dave"].map((by) => sendJson(app, "POST", "/api/anomalies/k2/ack", { by }, AUTH)),
      );
      assert.deepEqual(both.map((r) => r.status).sort(), [200, 409]);
      const winner = both.find((r) => r.status === 200)!.body.anomaly as {
        acknowledged_by: string;
      };
      const loser = both.find((r) => r.status === 409)!.body as {
        anomaly: { acknowledged_by: string };
      };
      assert.equal(loser.anomaly.acknowledged_by, winner.acknowledged_by);
      const [row] = await sql`SELECT acknowledged_by FROM anomaly_events WHERE id = 'k2'`;
      assert.equal(row!.acknowledged_by, winner.acknowledged_by);

      const missing = await sendJson(app, "POST", "/api/anomalies/zz/ack", { by: "x" }, AUTH);
      assert.equal(missing.status, 404);
    }, { token: TOKEN });
  },
);

Deno.test(
  "an acknowledgement on one web instance reaches the live streams of every instance (ack event)",
  opts,
  async () => {
    await withWebApp(async ({ app, sql, redis, keys, hub, instance }) => {
      await insertAnomalies(sql, [{ id: "j1", detected_at: new Date(), entity: "pay" }]);
      const other = await instance();
      const servers = [serve(app, { port: 0, log: silentLogger() })];
      servers.push(serve(other.app, { port: 0, log: silentLogger() }));
      const reading = new AbortController();
      try {
        const streams = await Promise.all(servers.map(async ({ port }) => {
          const res = await fetch(`http://127.0.0.1:${port}/api/live`, { signal: reading.signal });
          const reader = new SseReader(res.body!);
          await reader.next("hello");
          return reader;
        }));
        await waitUntil(() => hub.size === 1 && other.hub.size === 1, "a client on each");
        // Something else on the channel is skipped; the acknowledgement after it arrives.
        await redis.publish(keys.acksChannel(), JSON.stringify({ id: "j1" }));
        const ack = await sendJson(app, "POST", "/api/anomalies/j1/ack", {
          by: "alice",
          comment: "on it",
        }, AUTH);
        assert.equal(ack.status, 200);
        const stored = ack.body.anomaly as { acknowledged_at: string };
        for (const stream of streams) {
          assert.deepEqual(JSON.parse((await stream.next("ack", 1000)).data), {
            id: "j1",
            entity: "pay",
            acknowledged_at: stored.acknowledged_at,
            acknowledged_by: "alice",
            ack_comment: "on it",
          });
        }
        // A second one changes nothing, and tells nobody.
        const late = await sendJson(app, "POST", "/api/anomalies/j1/ack", { by: "bob" }, AUTH);
        assert.equal(late.status, 409);
        await assert.rejects(streams[1]!.next("ack", 300), /no "ack" event/);
      } finally {
        reading.abort();
        // The hubs first: they end the live streams the servers would wait for.
        await hub.close();
        await other.hub.close();
        for (const s of servers) await s.close();
      }
    }, { token: TOKEN });
  },
);
