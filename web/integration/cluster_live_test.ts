/**
 * The live view on a Redis Cluster: a real detector and a real web process
 * (their `deno task` lines) pointed at a private 3-master cluster by
 * `REDIS_CLUSTER_NODES`. Error logs written to the cluster's stream make the
 * detector raise an alert; its publish script (on the master of `{alerts}`)
 * publishes it, and the web's subscriber (on whichever node ioredis chose)
 * must hand it to an SSE client of `GET /api/live`.
 */
import assert from "node:assert/strict";
import { alertSchema } from "@vigil/shared/schemas/alert";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { type ServiceProcess, spawnService } from "@vigil/tools/testing/services";
import { SseReader } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "on a Redis Cluster, an alert the detector raises reaches the web's live view",
  opts,
  async () => {
    await withPg(({ url }) =>
      withRedisCluster(async ({ redis, keys, prefix, env: redisEnv }) => {
        const env = { ...redisEnv, DATABASE_URL: url, VIGIL_PREFIX: prefix, LOG_LEVEL: "info" };
        const services: ServiceProcess[] = [];
        const reading = new AbortController();
        try {
          const web = await spawnService("web", { ...env, WEB_PORT: "0" });
          services.push(web);
          const port = await web.opsPort(30_000);
          const health = await fetch(`http://127.0.0.1:${port}/health`);
          assert.equal(health.status, 200, await health.text());
          const res = await fetch(`http://127.0.0.1:${port}/api/live`, { signal: reading.signal });
          assert.equal(res.status, 200);
          const live = new SseReader(res.body!);
          await live.next("hello");

          services.push(await spawnService("detector", { ...env, DETECTOR_PORT: "0" }));
          // 20 ERROR logs of one service within the window: one error_spike.
          const p = redis.pipeline();
          const now = Date.now();
          for (let i = 0; i < 20; i++) {
            const event = {
              timestamp: new Date(now - 20_000 + i * 1000).toISOString(),
              service: "pay",
              level: "ERROR",
              message: "boom",
            };
            p.xadd(
              keys.events("logs"),
              "*",
              "data",
              JSON.stringify(event),
              "topic",
              "logs",
              "partition",
              "0",
              "offset",
              String(i),
              "key",
              "pay",
              "ingest_ts",
              String(now),
              "traceparent",
              "",
            );
          }
          for (const [error] of (await p.exec()) ?? []) assert.equal(error, null);

          const alert = alertSchema.parse(JSON.parse((await live.next("alert", 45_000)).data));
          assert.equal(alert.rule, "error_spike");
          assert.equal(alert.entity, "pay");
          assert.equal(await redis.xlen(keys.alerts()), 1, "and once in the durable stream");
        } catch (error) {
          throw new Error(
            `${(error as Error).message}\n${services.map((s) => s.tail(15)).join("\n")}`,
            {
              cause: error,
            },
          );
        } finally {
          reading.abort();
          for (const s of services.reverse()) await s.stop();
        }
      })
    );
  },
);
