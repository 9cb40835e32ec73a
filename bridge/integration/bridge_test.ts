import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { EVENT_SCHEMAS, EVENT_TYPES, isEventType } from "@vigil/shared/schemas/event";
import { deadLetterSchema, streamEntrySchema } from "@vigil/shared/schemas/stream";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  malformedMessages,
  produce,
  quietBridge,
  readAll,
  validMessages,
  withKafkaAndRedis,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() appends every valid event once and dead-letters 1,000 malformed ones",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 3 }, async ({ kafka, redis, keys }) => {
      const valid = validMessages(1200);
      const bad = malformedMessages(1000, { tooLargeBytes: 64 * 1024 });
      // Interleave: the valid ones around the bad ones must pass.
      const all = [];
      for (let i = 0; i < Math.max(valid.length, bad.length); i++) {
        if (valid[i]) all.push(valid[i]!);
        if (bad[i]) all.push(bad[i]!);
      }
      await produce(kafka, all);

      const metrics = new Registry();
      const bridge = quietBridge({ kafka, redis, keys }, {
        maxEventBytes: 64 * 1024,
        chunkSize: 100,
      }, metrics);
      await withRunning(bridge, async () => {
        await waitFor(async () => (await countAll(redis, keys)) >= all.length, {
          timeoutMs: 40_000,
          what: "every message in Redis",
        });
        // Nothing more arrives (no duplicates from later batches).
        await new Promise((r) => setTimeout(r, 500));
      });

      const entries = await readAll(redis, keys);
      assertExactlyOnce(entries, await kafkaCoordinates(kafka, EVENT_TYPES));

      for (const type of EVENT_TYPES) {
        const expected = valid.filter((m) => m.topic === type);
        const got = entries.filter((e) => e.stream === keys.events(type));
        assert.equal(got.length, expected.length, `${type} stream length`);
        assert.ok(got.length > 50, `enough ${type} events in the test`);
        for (const e of got) {
          const entry = streamEntrySchema.parse(e.fields);
          assert.equal(entry.topic, type);
          assert.ok(EVENT_SCHEMAS[type].safeParse(JSON.parse(entry.data)).success);
          assert.match(entry.traceparent ?? "", /^00-[\da-f]{32}-[\da-f]{16}-01$/);
          assert.ok(entry.key.length > 0);
          assert.ok(entry.ingest_ts > Date.now() - 120_000);
        }
      }
      // The traceparent and key are the ones the producer sent.
      const first = entries.find((e) => e.stream === keys.events("transactions"))!;
      const sent = valid.find((m) =>
        m.topic === "transactions" && JSON.parse(String(m.message.value)).transaction_id ===
          JSON.parse(first.fields.data!).transaction_id
      )!;
      assert.equal(
        first.fields.traceparent,
        (sent.message.headers as Record<string, string>).traceparent,
      );
      assert.equal(first.fields.key, sent.message.key);

      const dead = entries.filter((e) => e.stream === keys.dlq());
      assert.equal(dead.length, 1000);
      const byKind = new Map<string, number>();
      for (const e of dead) {
        const d = deadLetterSchema.parse(e.fields);
        assert.equal(d.source, "bridge");
        assert.ok(d.topic && isEventType(d.topic));
        const kind = d.reason.split(":")[0]!;
        byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
        if (d.encoding === "base64") assert.equal(kind, "not_utf8");
      }
      const expectedKinds = new Map<string, number>();
      for (const b of bad) expectedKinds.set(b.expect, (expectedKinds.get(b.expect) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(byKind), Object.fromEntries(expectedKinds));
      // Raw bytes are kept: a binary value comes back byte for byte.
      const binary = dead.find((e) => e.fields.encoding === "base64")!;
      const raw = Uint8Array.from(atob(binary.fields.raw!), (c) => c.charCodeAt(0));
      assert.deepEqual([...raw.slice(0, 6)], [0xff, 0xfe, 0x00, 0x7b, 0xc3, 0x28]);

      const text = await metrics.render();
      assert.match(
        text,
        /vigil_bridge_dead_letters_total\{topic="logs",reason_kind="invalid_json"\} \d+/,
      );
      assert.match(text, /vigil_bridge_stream_length\{type="metrics"\} \d+/);
      const offsets = await redis.hgetall(keys.bridgeProgress());
      assert.equal(Object.keys(offsets).length, 9);
    });
  },
);
