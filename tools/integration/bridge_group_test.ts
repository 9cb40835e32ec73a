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
          // alone and answers a follower's later SyncGroup with INVALID_REQUEST; a cold
          // process joining a running group of the mock nearly always loses that race,
          // kafkajs stops for good and the bridge exits 1. Compose restarts it; so does
          // this test, for that error only and at most 3 times.)
          let a = await spawnService("bridge", env);
          let b = await spawnService("bridge", env);
          services.push(a, b);
          for (let restarts = 0;; restarts++) {
            let exited: "a" | "b" | undefined;
            a.status.then(() => (exited ??= "a"));
            b.status.then(() => (exited ??= "b"));
            // (A member of a crashed bridge holds partitions until its session times out.)
            await waitFor(
              () =>
                exited !== undefined ||
                (assigned(a) > 0 && assigned(b) > 0 && assigned(a) + assigned(b) === 12),
              { timeoutMs: 60_000, what: "the partitions shared by both bridges" },
            );
            if (exited === undefined) break;
            const dead = exited === "a" ? a : b;
            assert.ok(
              restarts < 3 && dead.lines().some((l) => /^Response SyncGroup/.test(String(l.msg))),
              `bridge ${exited} exited:\n${dead.tail(10)}`,
            );
            const again = await spawnService("bridge", env);
            services.push(again);
            if (exited === "a") a = again;
            else b = again;
          }
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
