/**
 * Several bridges (issue 15.4): two `deno task bridge` processes in one
 * Kafka consumer group share the partitions; one is killed with SIGKILL
 * while messages keep coming; the other takes its partitions over, and
 * every message ends in Redis exactly once.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "../testing/kafka.ts";
import { withRedis } from "../testing/redis.ts";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  produceUntil,
  readAll,
  testKafka,
} from "../testing/bridge.ts";
import { type LogLine, type ServiceProcess, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The group joins a bridge logged. */
function joinLines(service: ServiceProcess): LogLine[] {
  return service.lines().filter((l) => l.msg === "joined consumer group");
}

function joins(service: ServiceProcess): number {
  return joinLines(service).length;
}

/** Partitions in the last group assignment a bridge logged (0 before it joined). */
function assigned(service: ServiceProcess): number {
  const assignment = joinLines(service).at(-1)?.assignment as Record<string, number[]> | undefined;
  return Object.values(assignment ?? {}).reduce((n, p) => n + p.length, 0);
}

Deno.test(
  "two bridges in one group, one killed with SIGKILL mid-stream: nothing lost, nothing duplicated",
  opts,
  async () => {
    await withKafka({ brokers: 1, partitions: 4 }, async (cluster) => {
      await withRedis(async ({ redis, keys, prefix, url }) => {
        const kafka = testKafka(cluster.brokers);
        const env = {
          KAFKA_BROKERS: cluster.bootstrap,
          REDIS_URL: url,
          VIGIL_PREFIX: prefix,
          BRIDGE_PORT: "0",
          BRIDGE_CHUNK_SIZE: "50",
          BRIDGE_SESSION_TIMEOUT: "6s",
          LOG_LEVEL: "info",
        };
        const stopProducing = new AbortController();
        // ~1,000 messages/s: the test's volume stays well under what the mock retains.
        const producing = produceUntil(kafka, stopProducing.signal, { batch: 30, pauseMs: 25 });
        const services: ServiceProcess[] = [];
        try {
          // Both start together, before the group exists: their first join is one
          // generation. (The mock completes a group sync on the leader's assignments
          // alone and answers a follower's later SyncGroup with INVALID_REQUEST; kafkajs
          // then gives up on that consumer and the bridge rejoins with a new one, in the
          // same process, until it gets its share. A cold member joining a running
          // group of the mock can also leave the group's fetches stalled, which real
          // Kafka does not: see docs/ingest.md.)
          const a = await spawnService("bridge", env);
          const b = await spawnService("bridge", env);
          services.push(a, b);
          let exited = false;
          a.status.then(() => (exited = true));
          b.status.then(() => (exited = true));
          await waitFor(
            () =>
              exited || (assigned(a) > 0 && assigned(b) > 0 && assigned(a) + assigned(b) === 12),
            { timeoutMs: 90_000, what: "the partitions shared by both bridges" },
          );
          assert.equal(exited, false, `both bridges stay up:\n${a.tail(5)}\n${b.tail(5)}`);
          const before = await countAll(redis, keys);
          await waitFor(async () => (await countAll(redis, keys)) > before + 2000, {
            timeoutMs: 40_000,
            intervalMs: 20,
            what: "both consuming",
          });
          // Mid-stream: entries are arriving and messages keep coming.
          const joinsBefore = joins(a);
          assert.equal((await b.kill("SIGKILL"))?.signal, "SIGKILL");
          // A takes B's partitions over after the session timeout.
          await waitFor(() => joins(a) > joinsBefore && assigned(a) === 12, {
            timeoutMs: 40_000,
            what: "bridge A owning every partition again",
          });
          await new Promise((r) => setTimeout(r, 1500));
          stopProducing.abort();
          const sent = await producing;
          assert.ok(sent > 5000, `sent ${sent}`);
          const expected = await kafkaCoordinates(kafka, EVENT_TYPES);
          assert.equal(expected.length, sent, "nothing deleted by retention (a complete check)");
          await waitFor(async () => (await countAll(redis, keys)) >= expected.length, {
            timeoutMs: 40_000,
            what: "every message in Redis",
          }).catch(async (e) => {
            const dlq = await redis.xrange(keys.dlq(), "-", "+");
            const have = await readAll(redis, keys);
            const got = new Set(
              have.map((x) => `${x.fields.topic}:${x.fields.partition}:${x.fields.offset}`),
            );
            const missing = expected.filter((c) => !got.has(c));
            const per: Record<string, number> = {};
            for (const m of missing) {
              const k = m.split(":").slice(0, 2).join(":");
              per[k] = (per[k] ?? 0) + 1;
            }
            throw new Error(
              `${e.message}\nmissing ${missing.length}: ${JSON.stringify(per)} first ${
                missing.slice(0, 3)
              }\ndlq ${dlq.length}: ${JSON.stringify(dlq.slice(0, 3))}\nbridge A:\n${
                a.lines().filter((l) => !/OffsetCommit/.test(String(l.msg))).slice(-40).map((l) =>
                  JSON.stringify(l)
                ).join("\n")
              }`,
            );
          });
          await new Promise((r) => setTimeout(r, 500));
          assert.equal((await a.stop()).code, 0, "graceful exit on SIGTERM");
          assertExactlyOnce(await readAll(redis, keys), expected);
        } finally {
          stopProducing.abort();
          await producing.catch(() => 0);
          for (const s of services) await s.stop(2000);
        }
      });
    });
  },
);
