import assert from "node:assert/strict";
import type { ProducerBatch, RecordMetadata } from "kafkajs";
import { silentLogger } from "@vigil/tools/testing/log";
import type { ProducedMessage } from "./scenario_types.ts";
import { type BatchProducer, createKafkaSink, type KafkaSink } from "./kafka_sink.ts";
import type { ReceivedSpan } from "@vigil/tools/testing/otel";
import type { ProducerMetrics } from "./metrics.ts";

type SinkMetrics = Pick<ProducerMetrics, "batchStarted" | "batch" | "sent" | "error">;

/** Sink metrics doing `some` and nothing else. */
function told(some: Partial<SinkMetrics>): SinkMetrics {
  return { batchStarted() {}, batch() {}, sent() {}, error() {}, ...some };
}

function messages(n: number, from = 0): ProducedMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    topic: (["logs", "metrics", "transactions"] as const)[(from + i) % 3]!,
    key: `k${from + i}`,
    value: `{"i":${from + i}}`,
    headers: { traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01" },
  }));
}

/** A fake producer recording batches; `gate` lets a test hold responses. */
function fakeProducer(behaviour: (call: number) => Promise<void> | void = () => {}) {
  const batches: ProducerBatch[] = [];
  let calls = 0;
  let active = 0;
  let maxActive = 0;
  const producer: BatchProducer = {
    async sendBatch(batch) {
      batches.push(batch);
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        await behaviour(++calls);
      } finally {
        active--;
      }
      return [] as RecordMetadata[];
    },
  };
  return {
    producer,
    batches,
    sizes: () =>
      batches.map((b) => (b.topicMessages ?? []).reduce((n, t) => n + t.messages.length, 0)),
    maxActive: () => maxActive,
  };
}

/** A fake producer whose answers wait until released. */
function heldProducer() {
  const held: (() => void)[] = [];
  const fake = fakeProducer(() => new Promise<void>((r) => held.push(r)));
  return {
    fake,
    /** Release held answers one by one until `sink` has `total` messages acknowledged. */
    async releaseUntil(sink: KafkaSink, total: number) {
      while (sink.stats().sent < total) {
        held.shift()?.();
        await new Promise((r) => setTimeout(r, 1));
      }
    },
  };
}

/** The numbers of a batch's message keys (`k12` → 12), in the batch's order. */
function keyNumbers(batch: ProducerBatch): number[] {
  return (batch.topicMessages ?? []).flatMap((t) => t.messages).map((m) =>
    Number(String(m.key).slice(1))
  );
}

Deno.test("createKafkaSink() sends full batches across topics with acks=-1 and no compression", async () => {
  const fake = fakeProducer();
  const sink = createKafkaSink({ producer: fake.producer, log: silentLogger(), maxBatch: 1000 });
  await sink.send(messages(2500));
  await sink.flush();
  assert.deepEqual(fake.sizes(), [1000, 1000, 500]);
  const first = fake.batches[0]!;
  assert.equal(first.acks, -1);
  assert.equal(first.compression, undefined);
  assert.deepEqual(first.topicMessages!.map((t) => t.topic).sort(), [
    "logs",
    "metrics",
    "transactions",
  ]);
  const logs = first.topicMessages!.find((t) => t.topic === "logs")!;
  assert.deepEqual(logs.messages[0], {
    key: "k0",
    value: '{"i":0}',
    headers: { traceparent: "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01" },
  });
  const stats = sink.stats();
  assert.equal(stats.sent, 2500);
  assert.equal(stats.errors, 0);
  assert.equal(stats.pending, 0);
  assert.equal(stats.batches, 3);
  assert.deepEqual(stats.byTopic, { logs: 834, metrics: 833, transactions: 833 });
});

Deno.test("createKafkaSink() sends a partial batch after lingerMs without a flush", async () => {
  const fake = fakeProducer();
  const sink = createKafkaSink({ producer: fake.producer, log: silentLogger(), lingerMs: 5 });
  await sink.send(messages(3));
  assert.equal(fake.batches.length, 0);
  const deadline = Date.now() + 5000;
  while (sink.stats().sent < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(fake.sizes(), [3]);
  await sink.flush();
});

Deno.test("createKafkaSink() bounds batches in flight and makes send() wait (backpressure)", async () => {
  const { fake, releaseUntil } = heldProducer();
  const started: number[] = [];
  const acked: number[] = [];
  const sink = createKafkaSink({
    producer: fake.producer,
    log: silentLogger(),
    maxBatch: 100,
    maxInFlight: 2,
    metrics: told({
      batchStarted: (id) => void started.push(id),
      batch: (_s, _size, id) => void acked.push(id),
    }),
  });
  let accepted = false;
  const sending = sink.send(messages(500)).then(() => accepted = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fake.batches.length, 2, "only two batches in flight");
  assert.equal(accepted, false, "send() waits while the window is full");
  // Release responses one by one until everything is through.
  await releaseUntil(sink, 500);
  await sending;
  await sink.flush();
  assert.equal(fake.maxActive(), 2);
  assert.equal(sink.stats().sent, 500);
  // Each batch is told by its id (the producer's health follows each one in flight).
  assert.deepEqual(started, [1, 2, 3, 4, 5]);
  assert.deepEqual([...acked].sort(), [1, 2, 3, 4, 5]);
});

Deno.test("createKafkaSink() by default sends a batch only once the one before is acknowledged", async () => {
  // kafkajs does not order concurrent sendBatch calls: only one at a time keeps each key's
  // messages in the order they were generated (and a retried batch before the next one).
  const { fake, releaseUntil } = heldProducer();
  const sink = createKafkaSink({ producer: fake.producer, log: silentLogger(), maxBatch: 100 });
  const sending = sink.send(messages(300));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fake.batches.length, 1, "the second batch waits for the first");
  await releaseUntil(sink, 300);
  await sending;
  await sink.flush();
  assert.equal(fake.maxActive(), 1);
  const keys = fake.batches.flatMap(keyNumbers);
  assert.deepEqual(
    [...keys].sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
  );
  // Batches in generation order: every key of batch n below every key of batch n + 1.
  const ranges = fake.batches.map(keyNumbers).map((ks) => [Math.min(...ks), Math.max(...ks)]);
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i - 1]![1]! < ranges[i]![0]!);
});

Deno.test("createKafkaSink() retries a failed batch, then counts it as errors", async (t) => {
  await t.step("a batch that fails twice is delivered on the third attempt", async () => {
    const fake = fakeProducer((call) => {
      if (call <= 2) throw new Error("broker unavailable");
    });
    const sink = createKafkaSink({
      producer: fake.producer,
      log: silentLogger(),
      retries: 2,
      sleep: () => Promise.resolve(),
    });
    await sink.send(messages(10));
    await sink.flush();
    assert.equal(fake.batches.length, 3);
    assert.deepEqual([sink.stats().sent, sink.stats().errors], [10, 0]);
  });
  await t.step("a batch that always fails ends as errors and onError is told", async () => {
    const fake = fakeProducer(() => {
      throw new Error("topic authorization failed");
    });
    let reported = 0;
    const sink = createKafkaSink({
      producer: fake.producer,
      log: silentLogger(),
      retries: 2,
      sleep: () => Promise.resolve(),
      metrics: told({ error: (n) => void (reported += n) }),
    });
    await sink.send(messages(10));
    await sink.flush();
    assert.equal(fake.batches.length, 3);
    assert.deepEqual([sink.stats().sent, sink.stats().errors, sink.stats().pending], [0, 10, 0]);
    assert.equal(reported, 10);
  });
});

Deno.test("createKafkaSink() reports per-topic sends and batch durations", async () => {
  const fake = fakeProducer();
  const perTopic: Record<string, number> = {};
  const sizes: number[] = [];
  const sink = createKafkaSink({
    producer: fake.producer,
    log: silentLogger(),
    maxBatch: 4,
    metrics: told({
      sent: (topic, n) => void (perTopic[topic] = (perTopic[topic] ?? 0) + n),
      batch: (seconds, size) => {
        assert.ok(seconds >= 0);
        sizes.push(size);
      },
    }),
  });
  await sink.send(messages(9));
  await sink.flush();
  assert.deepEqual(perTopic, { logs: 3, metrics: 3, transactions: 3 });
  assert.deepEqual(sizes, [4, 4, 1]);
});

Deno.test("createKafkaSink() without a tracer sends the headers as generated", async () => {
  const fake = fakeProducer();
  const sink = createKafkaSink({ producer: fake.producer, log: silentLogger() });
  const msgs = messages(50).map((m) => ({ ...m, parentTraceparent: m.headers.traceparent! }));
  await sink.send(msgs);
  await sink.flush();
  const sent = fake.batches.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages));
  assert.equal(sent.length, 50);
  assert.ok(sent.every((m) => m.headers!.traceparent === msgs[0]!.headers.traceparent));
  assert.ok(sent.every((m) => !("parentTraceparent" in m)));
});

Deno.test("createKafkaSink() with OTEL_DENO=true sends each message under its own send span", async () => {
  const { runTraced } = await import("@vigil/tools/testing/otel");
  const root = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const { stdout, spans } = await runTraced(`
    import { silentLogger } from "@vigil/tools/testing/log";
    import { tracer } from "@vigil/shared/telemetry";
    import { createKafkaSink } from "@vigil/producer/kafka_sink";
    const sent: { topic: string; headers: Record<string, string> }[] = [];
    const failed: string[] = [];
    let calls = 0;
    const producer = {
      sendBatch(batch: { topicMessages: { topic: string; messages: { headers: Record<string, string> }[] }[] }) {
        const messages = batch.topicMessages.flatMap((t) =>
          t.messages.map((m) => ({ topic: t.topic, headers: { ...m.headers } }))
        );
        // The first attempt of the first batch fails: its spans record the retry.
        if (++calls === 1) {
          failed.push(...messages.map((m) => m.headers.traceparent));
          return Promise.reject(new Error("broker down"));
        }
        sent.push(...messages);
        return Promise.resolve([]);
      },
    };
    const sink = createKafkaSink({
      producer, log: silentLogger(), tracer, maxBatch: 2, retryBaseMs: 1, sleep: () => Promise.resolve(),
    });
    const generated = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    await sink.send([
      { topic: "logs", key: "a", value: "{}", headers: { traceparent: generated }, parentTraceparent: "${root}" },
      { topic: "metrics", key: "b", value: "{}", headers: { traceparent: generated } },
      { topic: "transactions", key: "c", value: "{}", headers: { traceparent: generated, "vigil-scenario": "large_amount" }, parentTraceparent: "${root}" },
    ]);
    await sink.flush();
    console.log(JSON.stringify({ sent, failed }));
  `);
  const out = JSON.parse(stdout) as {
    sent: { topic: string; headers: Record<string, string> }[];
    failed: string[];
  };
  const sent = out.sent.sort((a, b) => a.topic.localeCompare(b.topic));
  assert.deepEqual(sent.map((m) => m.topic), ["logs", "metrics", "transactions"]);
  // A retried batch is sent under the same contexts.
  assert.deepEqual(out.failed, sent.slice(0, 2).map((m) => m.headers.traceparent));
  assert.equal(spans.length, 3);
  for (const m of sent) {
    // The header is the span's own context, not the generated one.
    const span = spans.find((s) => m.headers.traceparent === `00-${s.traceId}-${s.spanId}-01`);
    assert.ok(span, `a span for ${m.headers.traceparent}`);
    assert.equal(span.name, `send ${m.topic}`);
    assert.equal(span.kind, 4, "producer");
    assert.equal(span.attributes["messaging.destination.name"], m.topic);
  }
  const [logs, metrics, transactions] = sent.map((m) =>
    spans.find((s) => m.headers.traceparent!.includes(s.spanId))!
  ) as [ReceivedSpan, ReceivedSpan, ReceivedSpan];
  // Children of their parent (the scenario's span), or a trace of their own.
  for (const child of [logs, transactions]) {
    assert.deepEqual([child.traceId, child.parentSpanId], [root.slice(3, 35), root.slice(36, 52)]);
  }
  assert.equal(metrics.parentSpanId, undefined);
  assert.notEqual(metrics.traceId, root.slice(3, 35));
  assert.equal(transactions.attributes["vigil.scenario"], "large_amount");
  assert.equal(logs.attributes["vigil.retries"], 1);
  assert.equal(metrics.attributes["vigil.retries"], 1);
  assert.equal(transactions.attributes["vigil.retries"], undefined);
});
