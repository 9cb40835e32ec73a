/**
 * The detector's Redis I/O against the real server: the publisher (alerts
 * stream + Pub/Sub exactly once, the bounded and expiring scores cache) and
 * the shared stream consumer over the real server (own pending entries
 * first, XAUTOCLAIM of a dead consumer's entries after the idle time, dead
 * letters with the error).
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { waitFor } from "@vigil/tools/testing/kafka";
import { createRedis } from "@vigil/shared/redis";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { deadLetterSchema, fieldsToObject } from "@vigil/shared/schemas/stream";
import { alertSchema } from "@vigil/shared/schemas/alert";
import { testAlert } from "@vigil/tools/testing/alert";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";
import { createPublisher, type OutgoingAlert } from "../io/publisher.ts";
import { createStreamConsumer, type Delivery } from "@vigil/shared/stream_consumer";
import { createRedisStreamPort } from "@vigil/shared/stream_port";
import { createDetectorMetrics } from "../io/metrics.ts";
import { createPipeline } from "../io/pipeline.ts";
import { createPersistStage } from "../io/persist.ts";
import { createPublication } from "../io/publication.ts";
import { createCheckpointer } from "../io/checkpoint.ts";
import { createEvaluator } from "../core/evaluator.ts";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import type { ScoreEngine } from "../core/score_engine.ts";
import type { AnomalyStore } from "../io/store.ts";
import type { ScorePoint } from "../core/rules/types.ts";
import { appendEvents } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function alert(id: string): OutgoingAlert {
  return {
    marker: id,
    alert: testAlert({ id, type: "logs", rule: "error_spike", stages: { ingest: 1 } }),
  };
}

Deno.test(
  "publisher never trims alerts the notifier has not processed: the stream grows past MAXLEN instead",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      await redis.xgroup("CREATE", keys.alerts(), "notifier", "0", "MKSTREAM");
      const publisher = await createPublisher({ redis, keys, alertsMaxLen: 100 });
      const ids = Array.from({ length: 300 }, (_, i) => `u${i}`);
      for (let i = 0; i < ids.length; i += 50) {
        await publisher.publish(ids.slice(i, i + 50).map(alert), []);
      }
      // MAXLEN ~ 100 would have trimmed 100 or more of them, unread.
      assert.equal(await redis.xlen(keys.alerts()), 300);
      // Once the notifier has processed them, the stream is trimmed again.
      const read = await redis.xreadgroup(
        "GROUP",
        "notifier",
        "n",
        "COUNT",
        "300",
        "STREAMS",
        keys.alerts(),
        ">",
      ) as [string, [string, string[]][]][];
      const entries = read[0]![1];
      assert.deepEqual(entries.map(([, f]) => JSON.parse(f[1]!).id), ids);
      await redis.xack(keys.alerts(), "notifier", ...entries.map(([id]) => id));
      await publisher.publish([alert("v1")], []);
      const length = await redis.xlen(keys.alerts());
      assert.ok(length <= 201, `trimmed to about MAXLEN again: ${length}`);
    }),
);

Deno.test(
  "publisher appends and publishes each alert once, after which it is a no-op",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const sub = createRedis(TEST_REDIS_URL, { blocking: true });
      const heard: string[] = [];
      sub.on("message", (_c: string, m: string) => heard.push(JSON.parse(m).id));
      await sub.subscribe(keys.alertsChannel());
      try {
        const publisher = await createPublisher({ redis, keys });
        assert.deepEqual(await publisher.publish([alert("a1"), alert("a2")], []), ["a1", "a2"]);
        assert.deepEqual(await publisher.publish([alert("a1"), alert("a3")], []), ["a3"]);
        const stream = await redis.xrange(keys.alerts(), "-", "+");
        assert.deepEqual(stream.map(([, f]) => JSON.parse(f[1]!).id), ["a1", "a2", "a3"]);
        const first = alertSchema.parse(JSON.parse(stream[0]![1][1]!));
        assert.ok(first.stages.published! >= first.stages.ingest!);
        await waitFor(() => heard.length >= 3, { what: "3 live alerts" });
        assert.deepEqual(heard, ["a1", "a2", "a3"]);
      } finally {
        sub.disconnect();
      }
    }),
);

Deno.test(
  "scores cache: last N per series, nothing older than the TTL, key expiring",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const publisher = await createPublisher({ redis, keys, scoreKeep: 3, scoreTtlMs: 60_000 });
      const t0 = Date.UTC(2025, 0, 1);
      const point = (t: number, score: number): ScorePoint => ({
        type: "metrics",
        entity: "api",
        measure: "cpu",
        t,
        score,
        value: score * 100,
      });
      await publisher.publish([], [point(t0, 0.1), point(t0 + 1000, 0.2)]);
      await publisher.publish([], [point(t0 + 2000, 0.3), point(t0 + 3000, 0.4)]);
      const key = keys.scores("metrics", "api", "cpu");
      assert.deepEqual(await redis.zrange(key, 0, -1), [
        `${t0 + 1000}:0.2:20`,
        `${t0 + 2000}:0.3:30`,
        `${t0 + 3000}:0.4:40`,
      ]);
      const ttl = await redis.pttl(key);
      assert.ok(ttl > 50_000 && ttl <= 60_000, `expires in about 60 s (${ttl})`);
      // A statistical score carries its expected range.
      const banded = keys.scores("metrics", "api", "latency_ms");
      await publisher.publish([], [{
        ...point(t0, 0.7),
        measure: "latency_ms",
        low: 10,
        high: 12.5,
      }]);
      assert.deepEqual(await redis.zrange(banded, 0, -1), [`${t0}:0.7:70:10:12.5`]);
      // The measures written, by type: the web lists an entity's series from them (no SCAN).
      assert.deepEqual((await redis.smembers(keys.scoreMeasures("metrics"))).sort(), [
        "cpu",
        "latency_ms",
      ]);
      // A newer score drops the ones more than 60 s older than it (exactly 60 s stays).
      await publisher.publish([], [point(t0 + 63_000, 0.9)]);
      assert.deepEqual(await redis.zrange(key, 0, -1), [
        `${t0 + 3000}:0.4:40`,
        `${t0 + 63000}:0.9:90`,
      ]);
    }),
);

/** A store with nothing to store (no rule fires in the consumer test). */
function memoryStore(): AnomalyStore {
  return {
    insert: () => Promise.resolve([]),
    get: () => Promise.resolve(undefined),
    resolve: () => Promise.resolve([]),
    markPublished: () => Promise.resolve(),
    unpublished: () => Promise.resolve({ firing: [], resolved: [] }),
    unpublishedIn: () => Promise.resolve({ firing: [], resolved: [] }),
    open: () => Promise.resolve([]),
    openByEntity: () => Promise.resolve(new Map()),
    ping: () => Promise.resolve(true),
  };
}

Deno.test(
  "consumer: own pending first, a dead consumer's entries claimed after the idle time",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const stream = keys.events("logs");
      const t = new Date().toISOString();
      const log = (service: string) => ({ timestamp: t, service, level: "INFO", message: "x" });
      const ids = await appendEvents(redis, keys, "logs", ["a", "b", "c", "d"].map(log));
      await redis.xgroup("CREATE", stream, "g", "0");
      // "dead" took a and b and died; "me" took c before a restart; d is new.
      await redis.xreadgroup("GROUP", "g", "dead", "COUNT", 2, "STREAMS", stream, ">");
      await redis.xreadgroup("GROUP", "g", "me", "COUNT", 1, "STREAMS", stream, ">");
      const conn = createRedis(TEST_REDIS_URL, { blocking: true });
      const seen: Delivery[] = [];
      const stop = new AbortController();
      const started = Date.now();
      let claimedAt = 0;
      try {
        await createStreamConsumer({
          port: createRedisStreamPort({ redis, reader: conn, dlq: keys.dlq(), source: "detector" }),
          stream,
          group: "g",
          consumer: "me",
          log: silentLogger(),
          claimIdleMs: 600,
          blockMs: 50,
          ordered: true,
          handler: {
            restore: () => Promise.resolve(null),
            process(batch) {
              seen.push(...batch);
              if (batch.some((d) => d.id === ids[0])) claimedAt = Date.now();
              if (seen.length >= 4) stop.abort();
              return Promise.resolve([]);
            },
          },
        }).run(stop.signal);
      } finally {
        conn.disconnect();
      }
      assert.deepEqual(seen.map((d) => d.id), ids, "in stream order, each once");
      assert.ok(seen.every((d) => d.live));
      assert.ok(claimedAt - started >= 500, "claimed only once idle for claimIdleMs");
      // Re-read at start (2); idle again while "me" waited for the dead consumer's
      // entries, XAUTOCLAIM (which cannot filter by owner) claimed it too (3).
      assert.ok(seen[2]!.deliveries >= 2, "own pending entry: the restart is one more delivery");
      assert.equal(seen[0]!.deliveries, 2, "claimed: one more delivery");
      const pending = await redis.xpending(stream, "g") as [number];
      assert.equal(Number(pending[0]), 0, "all acknowledged");
    }),
);

Deno.test(
  "consumer + pipeline: an entry that fails N times goes to the dead-letter stream with the error",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const stream = keys.events("metrics");
      const t = new Date().toISOString();
      const ids = await appendEvents(redis, keys, "metrics", [
        { timestamp: t, service: "api", cpu: 10, latency_ms: 5 },
        { timestamp: t, service: "poison", cpu: 10, latency_ms: 5 },
        { timestamp: t, service: "api", cpu: 11, latency_ms: 6 },
      ]);
      // A scoring engine (the port), so the metric_score rule emits scores to cache.
      const engine: ScoreEngine<unknown> = {
        create: () => ({}),
        update: (state, _t, value) => ({
          state,
          score: 0,
          explanation: { expectedLow: 0, expectedHigh: 1, observed: value, summary: "" },
        }),
        serialize: () => "{}",
        restore: () => ({}),
      };
      // Every rule step for the poison service throws, as a rule bug would.
      const evaluator = createEvaluator("metrics", { rules: DEFAULT_RULES, engine });
      const step = evaluator.step;
      let poisonAttempts = 0;
      evaluator.step = (entry, sink) => {
        if ((entry.event as { service: string }).service === "poison") {
          poisonAttempts++;
          throw new Error("Cannot score poison: engine state corrupt");
        }
        step(entry, sink);
      };
      const conn = createRedis(TEST_REDIS_URL, { blocking: true });
      const stop = new AbortController();
      const store = memoryStore();
      const log = silentLogger();
      const pipeline = createPipeline({
        type: "metrics",
        stream,
        evaluator,
        persist: createPersistStage({ store, log }),
        publication: createPublication({
          publisher: await createPublisher({ redis, keys }),
          store,
          log,
        }),
        checkpointer: createCheckpointer({
          evaluator,
          store: { load: () => Promise.resolve(null), save: () => Promise.resolve() },
          intervalMs: 0,
          log,
        }),
        log,
        metrics: createDetectorMetrics(new Registry()),
        maxAttempts: 5,
      });
      try {
        await createStreamConsumer({
          port: createRedisStreamPort({ redis, reader: conn, dlq: keys.dlq(), source: "detector" }),
          stream,
          group: "g",
          consumer: "me",
          log,
          blockMs: 50,
          ordered: true,
          handler: pipeline,
          onAck: () => stop.abort(),
        }).run(stop.signal);
      } finally {
        conn.disconnect();
      }
      assert.equal(poisonAttempts, 5, "tried N = 5 times");
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(dlq.length, 1);
      const dead = deadLetterSchema.parse(fieldsToObject(dlq[0]![1]));
      assert.equal(dead.source, "detector");
      assert.equal(dead.stream_id, ids[1]);
      assert.equal(dead.stream, stream);
      assert.match(dead.reason, /failed 5 times: Cannot score poison: engine state corrupt/);
      assert.equal(JSON.parse(dead.raw).service, "poison");
      const pending = await redis.xpending(stream, "g") as [number];
      assert.equal(Number(pending[0]), 0, "the others are processed and acknowledged");
      assert.equal((await redis.zrange(keys.scores("metrics", "api", "cpu"), 0, -1)).length, 2);
    }),
);
