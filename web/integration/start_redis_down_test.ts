/**
 * A web started while Redis is out of reach: it waited for its live-alerts subscription before
 * listening, so the page, the API (PostgreSQL) and /health answered nothing ("connection
 * refused") until Redis came back, and it logged one `redis error` line, then nothing. It now
 * listens after a short wait, says why, refuses the live stream (503) and fails the health check
 * until the subscription is up; then live alerts flow. A TCP proxy in front of the test Redis
 * stands in for the outage.
 */
import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { testAlert } from "@vigil/tools/testing/alert";
import { silentLogger } from "@vigil/tools/testing/log";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import { startUrlProxy } from "@vigil/tools/testing/tcp_proxy";
import { parseWebConfig } from "../config.ts";
import { startWebServer } from "../server.ts";
import { waitUntil } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a web started while Redis is down serves the page and API, live refused until Redis answers",
  opts,
  async () => {
    await withPg(({ url }) =>
      withRedis(async ({ redis, keys, prefix, url: redisUrl }) => {
        const proxy = startUrlProxy(redisUrl);
        proxy.cut();
        const lines: Record<string, unknown>[] = [];
        const log = createLogger({ service: "web", write: (text) => lines.push(JSON.parse(text)) });
        const config = parseWebConfig({
          DATABASE_URL: url,
          REDIS_URL: proxy.url,
          VIGIL_PREFIX: prefix,
          WEB_PORT: "0",
        });
        const started = await Promise.race([
          startWebServer(config, { log }),
          new Promise<undefined>((r) => setTimeout(r, 20_000)),
        ]);
        assert.ok(started, "not listening 20 s after its start, Redis out of reach");
        const base = `http://127.0.0.1:${started.port}`;
        try {
          const waiting = lines.find((l) => String(l.msg).startsWith("cannot reach Redis"));
          assert.ok(waiting, JSON.stringify(lines.map((l) => l.msg)));
          assert.equal(waiting.level, "warn");
          assert.match(String(waiting.hint), /REDIS_URL/);

          const health = await fetch(`${base}/health`);
          assert.equal(health.status, 503);
          assert.match(await health.text(), /not subscribed to live alerts yet/);
          const page = await fetch(`${base}/`);
          assert.equal(page.status, 200);
          await page.body?.cancel();
          const list = await fetch(`${base}/api/anomalies?limit=1`);
          assert.equal(list.status, 200, await list.clone().text());
          await list.body?.cancel();
          const live = await fetch(`${base}/api/live`);
          assert.equal(live.status, 503);
          assert.match(await live.text(), /live alerts are cut/);

          proxy.restore();
          await waitUntil(
            async () => {
              const r = await fetch(`${base}/health`);
              await r.body?.cancel();
              return r.ok;
            },
            "health ok once Redis answers",
            30_000,
          );
          const stream = await fetch(`${base}/api/live`);
          assert.equal(stream.status, 200);
          const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
          let got = "";
          const alert = testAlert({ id: "after-redis-came-back" });
          await redis.publish(keys.alertsChannel(), JSON.stringify(alert));
          while (!got.includes("after-redis-came-back")) {
            const { value, done } = await reader.read();
            if (done) break;
            got += value;
          }
          await reader.cancel();
          assert.match(got, /event: alert/);
          assert.match(got, /after-redis-came-back/);
        } finally {
          await started.close();
          await proxy.close();
        }
      })
    );
  },
);

Deno.test("a web stopped while Redis is still down stops at once", opts, async () => {
  // Its hub's UNSUBSCRIBE waited for Redis: every such stop took the lifecycle's 10 s and ended
  // in a forced exit (1).
  await withPg(({ url }) =>
    withRedis(async ({ prefix }) => {
      const config = parseWebConfig({
        DATABASE_URL: url,
        REDIS_URL: "redis://127.0.0.1:1",
        VIGIL_PREFIX: prefix,
        WEB_PORT: "0",
      });
      const server = await startWebServer(config, { log: silentLogger() });
      const started = Date.now();
      const closed = await Promise.race([
        server.close().then(() => true),
        new Promise<false>((r) => setTimeout(r, 8000, false)),
      ]);
      assert.ok(closed, `still closing ${Date.now() - started} ms after close()`);
    })
  );
});
