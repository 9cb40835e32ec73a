import assert from "node:assert/strict";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "@vigil/tools/testing/log";
import type { Alert } from "@vigil/shared/schemas/alert";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { testAlert } from "@vigil/tools/testing/alert";
import { withWebApp } from "./_helpers.ts";
import { SseReader, waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function alert(id: string, message = "p99 latency 950 ms > 500 ms"): Alert {
  return testAlert({ id, message });
}

async function connect(port: number, signal: AbortSignal): Promise<SseReader> {
  const res = await fetch(`http://127.0.0.1:${port}/api/live`, { signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const reader = new SseReader(res.body!);
  await reader.next("hello");
  return reader;
}

Deno.test(
  "GET /api/live delivers a published alert to two clients and cleans up a disconnected one",
  opts,
  async () => {
    await withWebApp(async ({ app, redis, keys, hub, metrics }) => {
      // Served as in production: behind the request-head guard.
      const server = serve(app, { port: 0, log: silentLogger() });
      const a = new AbortController();
      const b = new AbortController();
      try {
        const clientA = await connect(server.port, a.signal);
        const clientB = await connect(server.port, b.signal);
        await waitUntil(() => hub.size === 2, "two hub clients");
        assert.equal(await sampleValue(metrics.sseClients), 2);
        // One Redis subscription serves both.
        assert.deepEqual(await redis.pubsub("NUMSUB", keys.alertsChannel()), [
          keys.alertsChannel(),
          1,
        ]);

        // An invalid message is skipped; the valid one after it still arrives.
        await redis.publish(keys.alertsChannel(), "{not json");
        await redis.publish(keys.alertsChannel(), JSON.stringify({ id: "half" }));
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("a-1")));
        for (const client of [clientA, clientB]) {
          const got = JSON.parse((await client.next("alert")).data) as Alert;
          assert.equal(got.id, "a-1");
          assert.equal(got.message, "p99 latency 950 ms > 500 ms");
        }
        assert.equal(await sampleValue(metrics.alertsReceived, { result: "invalid" }), 2);
        assert.equal(await sampleValue(metrics.alertsReceived, { result: "ok" }), 1);

        // Client B disconnects: the hub forgets it; A still gets the next alert.
        await clientB.cancel();
        b.abort();
        await waitUntil(() => hub.size === 1, "hub to drop the disconnected client");
        assert.equal(await sampleValue(metrics.sseClients), 1);
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("a-2", "line1\nline2")));
        const next = JSON.parse((await clientA.next("alert")).data) as Alert;
        assert.equal(next.id, "a-2");
        assert.equal(next.message, "line1\nline2");
        assert.ok(await sampleValue(metrics.sseMessages, { event: "alert" }) >= 3);

        // Closing the hub (shutdown) ends the remaining stream, so the server can drain.
        await hub.close();
        assert.equal(await clientA.ended(), true);
        assert.equal(hub.size, 0);
      } finally {
        a.abort();
        b.abort();
        await server.close();
      }
    });
  },
);

Deno.test(
  "GET /api/live sends a stats heartbeat and refuses clients beyond capacity",
  opts,
  async () => {
    await withWebApp(async ({ hub, app }) => {
      // Served as in production: behind the request-head guard.
      const server = serve(app, { port: 0, log: silentLogger() });
      const c = new AbortController();
      try {
        const client = await connect(server.port, c.signal);
        const beat = JSON.parse((await client.next("stats", 5000)).data);
        assert.equal(beat.clients, 1);
        assert.deepEqual(beat.stats, { ok: true });
        await waitUntil(() => hub.size === 1, "one client");
        const refused = await fetch(`http://127.0.0.1:${server.port}/api/live`);
        assert.equal(refused.status, 503);
        assert.match((await refused.json()).error, /too many clients/);
        await client.cancel();
        await waitUntil(() => hub.size === 0, "no clients");
      } finally {
        c.abort();
        await hub.close();
        await server.close();
      }
    }, { heartbeatMs: 300, maxClients: 1 });
  },
);

Deno.test(
  "GET /api/live ends the streams when the live subscription was cut: the page reloads what it missed",
  opts,
  async () => {
    await withWebApp(async ({ app, redis, keys, hub, subscriber }) => {
      const server = serve(app, { port: 0, log: silentLogger() });
      const a = new AbortController();
      const b = new AbortController();
      try {
        const clientA = await connect(server.port, a.signal);
        await waitUntil(() => hub.size === 1, "the hub client");
        // Redis drops the web's subscriber (a restart, a failover, the pubsub output buffer
        // limit): alerts published until it has subscribed again never reach the stream.
        const port = (subscriber as unknown as { stream: { localPort: number } }).stream.localPort;
        await redis.client("KILL", "ADDR", `127.0.0.1:${port}`);
        // The stream ends, so the page reconnects and reloads the list, as after its own drop.
        assert.equal(await clientA.ended(5000), true, "the stream stayed open");
        await waitUntil(() => hub.health() === true && hub.size === 0, "the subscription back");
        const clientB = await connect(server.port, b.signal);
        await waitUntil(() => hub.size === 1, "the new hub client");
        await redis.publish(keys.alertsChannel(), JSON.stringify(alert("after-cut")));
        assert.equal(JSON.parse((await clientB.next("alert")).data).id, "after-cut");
        await clientB.cancel();
      } finally {
        a.abort();
        b.abort();
        await server.close();
      }
    });
  },
);

Deno.test(
  "HEAD /api/live answers the stream's headers without taking a client slot",
  opts,
  async () => {
    await withWebApp(async ({ app, hub }) => {
      const server = serve(app, { port: 0, log: silentLogger() });
      const c = new AbortController();
      try {
        // A monitor or a link checker probing the stream: HEAD has no body to end.
        for (let i = 0; i < 3; i++) {
          const head = await fetch(`http://127.0.0.1:${server.port}/api/live`, { method: "HEAD" });
          assert.equal(head.status, 200);
          assert.match(head.headers.get("content-type") ?? "", /text\/event-stream/);
          await head.body?.cancel();
        }
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(hub.size, 0, "a HEAD request left a live client behind");
        // So the one slot is still free for a page.
        const client = await connect(server.port, c.signal);
        await waitUntil(() => hub.size === 1, "the page's client");
        await client.cancel();
      } finally {
        c.abort();
        await server.close();
      }
    }, { maxClients: 1 });
  },
);

Deno.test(
  "vigil_web_sse_messages_total counts the hello every client gets, as the messages after it",
  opts,
  async () => {
    await withWebApp(async ({ app, metrics }) => {
      const server = serve(app, { port: 0, log: silentLogger() });
      const abort = new AbortController();
      try {
        const client = await connect(server.port, abort.signal);
        assert.equal(await sampleValue(metrics.sseMessages, { event: "hello" }), 1);
        await client.cancel();
      } finally {
        abort.abort();
        await server.close();
      }
    });
  },
);
