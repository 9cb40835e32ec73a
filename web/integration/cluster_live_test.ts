/**
 * The live view on a Redis Cluster: a real detector and a real web process
 * (their `deno task` lines) pointed at a private 3-master cluster by
 * `REDIS_CLUSTER_NODES`. Error logs written to the cluster's stream make the
 * detector raise an alert; its publish script (on the master of `{alerts}`)
 * publishes it, and the web's subscriber (on whichever node ioredis chose)
 * must hand it to an SSE client of `GET /api/live`; a real notifier reads it
 * from the cluster's alerts stream into a digest and acknowledges it.
 */
import assert from "node:assert/strict";
import { alertSchema } from "@vigil/shared/schemas/alert";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { ROOT, type ServiceProcess, spawnService } from "@vigil/tools/testing/services";
import { waitFor } from "@vigil/tools/testing/wait";
import { GROUPS } from "@vigil/shared/keys";
import { SseReader } from "./_sse.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "on a Redis Cluster, an alert the detector raises reaches the web's live view and the notifier",
  opts,
  async () => {
    await withPg(({ sql, url }) =>
      withRedisCluster(async ({ redis, keys, prefix, env: redisEnv }) => {
        const env = { ...redisEnv, DATABASE_URL: url, VIGIL_PREFIX: prefix, LOG_LEVEL: "info" };
        const services: ServiceProcess[] = [];
        const reading = new AbortController();
        // Inside ./data: the notifier's task may write only there.
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
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
          services.push(
            await spawnService("notifier", {
              ...env,
              NOTIFIER_PORT: "0",
              OUTBOX_DIR: outbox,
              GROUP_WAIT: "1s",
            }),
          );
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
          await waitFor(async () => {
            const [row] = await sql`SELECT alert_ids FROM notifier_digests`.catch(() => []);
            const pending = await redis.xpending(keys.alerts(), GROUPS.notifier).catch(() => [1]);
            return row?.alert_ids?.[0] === alert.id && Number((pending as [number])[0]) === 0;
          }, { timeoutMs: 30_000, what: "the notifier's digest of the alert, acknowledged" });

          // The page's reads on the cluster: the evidence from the stream (pipelined per
          // slot) and the series of an entity found by SCAN on every master.
          const detail = await (await fetch(`http://127.0.0.1:${port}/api/anomalies/${alert.id}`))
            .json();
          assert.ok(detail.evidence.length > 0);
          assert.ok(
            detail.evidence.every((e: { available: boolean }) => e.available),
            "evidence read",
          );
          const measures = [
            "cpu",
            "latency_ms",
            "errors",
            "queue",
            "memory",
            "disk",
            "threads",
            "gc",
          ];
          const masters = new Set<string>();
          for (const m of measures) {
            const key = keys.scores("metrics", "pay", m);
            await redis.zadd(key, now, `${now}:1.5:${measures.indexOf(m)}`);
            await redis.sadd(keys.scoreMeasures("metrics"), m);
            const slot = Number(await redis.call("CLUSTER", "KEYSLOT", key));
            const owner =
              ((await redis.call("CLUSTER", "SLOTS")) as [number, number, [string, number]][])
                .find(([from, to]) => slot >= from && slot <= to)!;
            masters.add(String(owner[2][1]));
          }
          assert.ok(masters.size > 1, "the series live on several masters");
          const series = await (await fetch(`http://127.0.0.1:${port}/api/series/metrics/pay`))
            .json();
          assert.deepEqual(
            series.series.map((x: { measure: string }) => x.measure).sort(),
            [...measures].sort(),
          );
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
          await Deno.remove(`${ROOT}${outbox.slice(2)}`, { recursive: true }).catch(() => {});
        }
      })
    );
  },
);
