import assert from "node:assert/strict";
import { withRunning } from "@vigil/tools/testing/wait";
import { Buffer } from "node:buffer";
import { waitFor } from "@vigil/tools/testing/kafka";
import { Registry } from "@vigil/shared/metrics";
import { canonicalize } from "@vigil/shared/schemas/canonical";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import { deadLetterSchema, streamEntrySchema } from "@vigil/shared/schemas/stream";
import {
  countAll,
  produce,
  quietBridge,
  readAll,
  withKafkaAndRedis,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TS = "2025-01-02T03:04:05.000Z";
const EPOCH_S = Date.parse(TS) / 1000;

/**
 * One input: the topic it is sent on, its value, and what it must become:
 * an entry of a stream with exactly this data, or a dead letter of this kind.
 */
interface Case {
  name: string;
  topic: EventType;
  value: string | Buffer;
  expect: { stream: EventType; data: string } | { dead: string };
}

const logOf = (extra = "") =>
  `{"timestamp":"${TS}","service":"api","level":"INFO","message":"m"${extra}}`;
const canonicalLog = (extra = "") =>
  `{"timestamp":"${TS}","service":"api","level":"INFO","message":"m"${extra}}`;
const txOf = (userId: string) =>
  `{"timestamp":"${TS}","transaction_id":"t1","user_id":${userId},"amount":5,"currency":"EUR","status":"approved"}`;

const CASES: Case[] = [
  // Hygiene (issue 13.1 / 13.6): never a crash or a stalled partition.
  {
    name: "NUL in a log's user_id",
    topic: "logs",
    value: logOf(',"user_id":"u\\u0000"'),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "NUL in a transaction's user_id",
    topic: "transactions",
    value: txOf('"u\\u0000"'),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "lone surrogate in user_id",
    topic: "transactions",
    value: txOf('"\\udfff"'),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "C0 control in service",
    topic: "metrics",
    value: `{"timestamp":"${TS}","service":"a\\u001b","cpu":1,"latency_ms":1}`,
    expect: { dead: "invalid_schema" },
  },
  {
    name: "NUL, BEL and a lone surrogate in the message",
    topic: "logs",
    value:
      `{"timestamp":"${TS}","service":"api","level":"INFO","message":"a\\u0000b\\u0007c\\ud800\\td"}`,
    expect: {
      stream: "logs",
      data:
        `{"timestamp":"${TS}","service":"api","level":"INFO","message":"a\ufffdb\ufffdc\ufffd\\td"}`,
    },
  },
  {
    name: "a surrogate as raw bytes",
    topic: "logs",
    value: Buffer.from([0x7b, 0x22, 0xed, 0xb0, 0x80, 0x22, 0x7d]),
    expect: { dead: "not_utf8" },
  },
  {
    name: "a raw NUL byte in a string",
    topic: "logs",
    value: Buffer.from('{"a":"\0"}'),
    expect: { dead: "invalid_json" },
  },
  {
    name: "1.2 MB body",
    topic: "logs",
    value: logOf(`,"x":"${"a".repeat(1_200_000)}"`),
    expect: { dead: "too_large" },
  },
  {
    name: "100,000 levels of [",
    topic: "logs",
    value: "[".repeat(100_000),
    expect: { dead: "invalid_json" },
  },
  {
    name: "100,000 levels of [ ]",
    topic: "metrics",
    value: "[".repeat(100_000) + "]".repeat(100_000),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "100,000 levels in an extra field",
    topic: "logs",
    value: logOf(',"x":' + "[".repeat(100_000) + "]".repeat(100_000)),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "1e999 as latency",
    topic: "metrics",
    value: `{"timestamp":"${TS}","service":"a","cpu":1,"latency_ms":1e999}`,
    expect: { dead: "invalid_schema" },
  },
  {
    name: "1e999 in an extra field",
    topic: "logs",
    value: logOf(',"x":1e999'),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "-0 as cpu",
    topic: "metrics",
    value: `{"timestamp":"${TS}","service":"a","cpu":-0,"latency_ms":1}`,
    expect: {
      stream: "metrics",
      data: `{"timestamp":"${TS}","service":"a","cpu":0,"latency_ms":1}`,
    },
  },
  {
    name: "a huge integer as user_id",
    topic: "transactions",
    value: txOf("123456789012345678901234567890"),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "__proto__, constructor and prototype keys",
    topic: "logs",
    value: logOf(
      ',"__proto__":{"polluted":1},"tags":{"constructor":{"a":1},"k":"v"},"prototype":1',
    ),
    expect: { stream: "logs", data: canonicalLog(',"tags":{"k":"v"}') },
  },
  {
    name: "duplicate key",
    topic: "logs",
    value: logOf(',"service":"other"'),
    expect: { dead: "invalid_json" },
  },
  {
    name: "33 extra fields",
    topic: "logs",
    value: logOf(Array.from({ length: 33 }, (_, i) => `,"x${i}":1`).join("")),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "9 KiB of extra fields",
    topic: "logs",
    value: logOf(`,"x":"${"a".repeat(9000)}"`),
    expect: { dead: "invalid_schema" },
  },
  {
    name: "binary garbage",
    topic: "transactions",
    value: Buffer.from([0xff, 0x00, 0xfe]),
    expect: { dead: "not_utf8" },
  },
  // The seeds' own shapes (issue 17.14).
  {
    name: "seed: a log with a numeric user_id",
    topic: "logs",
    value: `{"timestamp":"${TS}","service":"api","level":"info","message":"login","user_id":1042}`,
    expect: {
      stream: "logs",
      data:
        `{"timestamp":"${TS}","service":"api","level":"INFO","message":"login","user_id":"1042"}`,
    },
  },
  {
    name: "seed: a transaction with a numeric user_id",
    topic: "transactions",
    value: txOf("1042"),
    expect: {
      stream: "transactions",
      data:
        `{"timestamp":"${TS}","transaction_id":"t1","user_id":"1042","amount":5,"currency":"EUR","status":"approved"}`,
    },
  },
  {
    name: "seed: a log with epoch seconds",
    topic: "logs",
    value: `{"timestamp":${EPOCH_S},"service":"api","level":"ERROR","message":"boom"}`,
    expect: {
      stream: "logs",
      data: `{"timestamp":"${TS}","service":"api","level":"ERROR","message":"boom"}`,
    },
  },
  {
    name: "seed: a metric with epoch milliseconds",
    topic: "metrics",
    value: `{"timestamp":${EPOCH_S * 1000},"service":"api","cpu":12.5,"latency_ms":40}`,
    expect: {
      stream: "metrics",
      data: `{"timestamp":"${TS}","service":"api","cpu":12.5,"latency_ms":40}`,
    },
  },
  {
    name: "seed 001: the simulator's record on the logs topic",
    topic: "logs",
    value: `{"timestamp":${EPOCH_S},"service":"checkout","latency_ms":250.5,"error_rate":0.02}`,
    expect: {
      stream: "metrics",
      data: `{"timestamp":"${TS}","service":"checkout","latency_ms":250.5,"error_rate":0.02}`,
    },
  },
];

Deno.test(
  "the bridge turns every unplanned input into a canonical entry or a dead letter with its reason, and keeps flowing",
  opts,
  async () => {
    await withKafkaAndRedis({ brokers: 1, partitions: 1 }, async ({ kafka, redis, keys }) => {
      // Each topic has one partition: offsets count the cases of the topic in order.
      const offsetOf = new Map<Case, string>();
      const next = new Map<string, number>();
      for (const c of CASES) {
        const n = next.get(c.topic) ?? 0;
        offsetOf.set(c, String(n));
        next.set(c.topic, n + 1);
      }
      // After all of them, one valid message per topic must still be appended.
      const after = EVENT_TYPES.map((topic) => ({
        topic,
        offset: String(next.get(topic) ?? 0),
        value: topic === "logs"
          ? logOf()
          : topic === "metrics"
          ? `{"timestamp":"${TS}","service":"z","cpu":1,"latency_ms":2}`
          : txOf('"u-after"'),
      }));
      await produce(kafka, [
        ...CASES.map((c) => ({ topic: c.topic, message: { key: "k", value: c.value } })),
        ...after.map((a) => ({ topic: a.topic, message: { key: "k", value: a.value } })),
      ], 1);

      const metrics = new Registry();
      const bridge = quietBridge({ kafka, redis, keys }, { chunkSize: 7 }, metrics);
      await withRunning(bridge, async () => {
        await waitFor(async () => (await countAll(redis, keys)) >= CASES.length + 3, {
          timeoutMs: 40_000,
          what: "every message as an entry or a dead letter",
        });
        await new Promise((r) => setTimeout(r, 300));
      });

      const entries = await readAll(redis, keys);
      assert.equal(entries.length, CASES.length + 3, "one entry per message, no more");
      const at = (topic: string, offset: string) =>
        entries.filter((e) => e.fields.topic === topic && e.fields.offset === offset);
      for (const c of CASES) {
        const found = at(c.topic, offsetOf.get(c)!);
        assert.equal(found.length, 1, c.name);
        const e = found[0]!;
        if ("dead" in c.expect) {
          assert.equal(
            e.stream,
            keys.dlq(),
            `${c.name}: ${JSON.stringify(e.fields).slice(0, 200)}`,
          );
          const d = deadLetterSchema.parse(e.fields);
          assert.equal(d.reason.split(":")[0], c.expect.dead, `${c.name}: ${d.reason}`);
          assert.equal(d.key, "k");
          const bytes = typeof c.value === "string" ? Buffer.from(c.value) : c.value;
          assert.equal(d.size, bytes.length, c.name);
          assert.ok(d.raw.length <= 4096 * 2, `${c.name}: a bounded raw prefix`);
        } else {
          assert.equal(e.stream, keys.events(c.expect.stream), c.name);
          const entry = streamEntrySchema.parse(e.fields);
          assert.equal(entry.data, c.expect.data, c.name);
          // The guarantee a consumer relies on: data is the canonical text already.
          const again = canonicalize(c.expect.stream, JSON.parse(entry.data));
          assert.ok(again.ok && again.data === entry.data, c.name);
        }
      }
      for (const a of after) {
        const [e] = at(a.topic, a.offset);
        assert.equal(e?.stream, keys.events(a.topic), `${a.topic} keeps flowing`);
        assert.equal(await redis.hget(keys.bridgeProgress(), `${a.topic}:0`), a.offset);
      }
      const text = await metrics.render();
      assert.match(text, /vigil_bridge_messages_total\{type="metrics"\} 4\n/);
    });
  },
);
