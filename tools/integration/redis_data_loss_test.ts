/**
 * Redis loses its data while the services run (restarted without
 * persistence, as the development Redis is, or failed over to a replica
 * that was behind): the real bridge, detector and notifier recreate their
 * consumer groups and go on. An anomaly produced after the loss is stored,
 * published and sent; the one from before is not sent again.
 *
 * A private redis-server without an append-only file, so the shared test
 * Redis is not disturbed.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { createKeys } from "@vigil/shared/keys";
import { createRedis } from "@vigil/shared/redis";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import { waitFor, withKafka } from "../testing/kafka.ts";
import { withPg } from "../testing/pg.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { ROOT, type ServiceProcess, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "Redis restarted empty: bridge, detector and notifier recreate their groups; the next anomaly is stored and sent, the earlier one not again",
  opts,
  async () => {
    await withKafka(
      { brokers: 1, partitions: 1, topics: EVENT_TYPES },
      (cluster) =>
        withPg(async ({ sql, url }) => {
          const server = await startRedisServer({ persistent: false });
          const redis = createRedis(server.url, {});
          const keys = createKeys("loss:");
          const tag = crypto.randomUUID().slice(0, 8);
          const outbox = `data/test-outbox-${tag}`;
          const env = {
            KAFKA_BROKERS: cluster.brokers.join(","),
            REDIS_URL: server.url,
            DATABASE_URL: url,
            VIGIL_PREFIX: "loss:",
            LOG_LEVEL: "info",
          };
          const kafka = new Kafka({
            brokers: cluster.brokers,
            clientId: "loss",
            logLevel: logLevel.NOTHING,
          });
          const producer = kafka.producer();
          const services: ServiceProcess[] = [];
          const tails = () => services.map((s) => s.tail()).join("\n");
          /** A latency far over the rule's 1000 ms: one CRITICAL anomaly for `service`. */
          const slow = (service: string) =>
            producer.send({
              topic: "metrics",
              messages: [{
                key: service,
                value: JSON.stringify({
                  timestamp: new Date().toISOString(),
                  service,
                  cpu: 10,
                  latency_ms: 5000,
                }),
              }],
            });
          const published = (service: string) =>
            waitFor(async () =>
              (await sql`SELECT 1 FROM anomaly_events WHERE entity = ${service}
                  AND published_at IS NOT NULL`).length === 1, {
              timeoutMs: 60_000,
              what: `the ${service} anomaly published\n${tails()}`,
            });
          /** How many digests in the outbox announce `service`'s alert as new (quoted-printable text). */
          const sent = async (service: string) => {
            let n = 0;
            try {
              for await (const f of Deno.readDir(`${ROOT}${outbox}`)) {
                const text = (await Deno.readTextFile(`${ROOT}${outbox}/${f.name}`))
                  .replace(/=\r?\n/g, "");
                if (text.includes(`${service} (metrics) =E2=80=94 new`)) n++;
              }
            } catch (error) {
              if (!(error instanceof Deno.errors.NotFound)) throw error;
            }
            return n;
          };
          const before = `loss-before-${tag}`, after = `loss-after-${tag}`;
          try {
            await producer.connect();
            const detector = await spawnService("detector", {
              ...env,
              DETECTOR_PORT: "0",
              DETECTOR_LEASE_TTL: "3s",
            });
            services.push(detector);
            const notifier = await spawnService("notifier", {
              ...env,
              NOTIFIER_PORT: "0",
              OUTBOX_DIR: `${ROOT}${outbox}`,
              GROUP_WAIT: "200ms",
              GROUP_INTERVAL: "1s",
            });
            services.push(notifier);
            const bridge = await spawnService("bridge", { ...env, BRIDGE_PORT: "0" });
            services.push(bridge);
            await Promise.all([detector.opsPort(60_000), notifier.opsPort(60_000)]);
            await bridge.waitForLine(
              (l) => l.msg === "joined consumer group",
              "group join",
              60_000,
            );

            await slow(before);
            await published(before);
            await waitFor(async () => (await sent(before)) === 1, {
              timeoutMs: 30_000,
              what: `the ${before} digest\n${notifier.tail()}`,
            });

            // Redis comes back with nothing: no stream, no group, no offset, no checkpoint.
            await server.stop();
            await server.start();

            await slow(after);
            await published(after);
            await waitFor(async () => (await sent(after)) === 1, {
              timeoutMs: 60_000,
              what: `the ${after} digest\n${notifier.tail()}`,
            });
            const groups = async (stream: string) =>
              (await redis.xinfo("GROUPS", stream) as unknown[][]).map((g) =>
                fieldsToObject(g.map(String))
              );
            await waitFor(async () => {
              const [d] = await groups(keys.events("metrics", 0));
              const [n] = await groups(keys.alerts());
              return d?.name === "detector" && d.pending === "0" && n?.name === "notifier" &&
                n.pending === "0";
            }, { what: `both groups recreated, nothing pending\n${tails()}` });
            assert.equal(await sent(before), 1, "the earlier anomaly was not announced again");
            const rows = await sql`SELECT entity FROM anomaly_events
              WHERE entity IN (${before}, ${after})`;
            assert.equal(rows.length, 2, "one anomaly each");
            for (const s of services) {
              const exited = await Promise.race([
                s.status.then(() => true),
                new Promise((r) => setTimeout(() => r(false), 50)),
              ]);
              assert.equal(exited, false, `still running\n${s.tail()}`);
            }
          } finally {
            await Promise.all(services.map((s) => s.stop()));
            await producer.disconnect().catch(() => {});
            redis.disconnect();
            await server.close();
            await Deno.remove(`${ROOT}${outbox}`, { recursive: true }).catch(() => {});
          }
        }),
    );
  },
);
