import assert from "node:assert/strict";
import type { ProducerBatch, RecordMetadata } from "kafkajs";
import { silentLogger } from "@vigil/shared/log";
import type { ProducedMessage } from "./generator.ts";
import { type BatchProducer, createKafkaSink } from "./kafka_sink.ts";

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
  const held: (() => void)[] = [];
  const fake = fakeProducer(() => new Promise<void>((r) => held.push(r)));
  const sink = createKafkaSink({
    producer: fake.producer,
    log: silentLogger(),
    maxBatch: 100,
    maxInFlight: 2,
  });
  let accepted = false;
  const sending = sink.send(messages(500)).then(() => accepted = true);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fake.batches.length, 2, "only two batches in flight");
  assert.equal(accepted, false, "send() waits while the window is full");
  // Release responses one by one until everything is through.
  while (sink.stats().sent < 500) {
    held.shift()?.();
    await new Promise((r) => setTimeout(r, 1));
  }
  await sending;
  await sink.flush();
  assert.equal(fake.maxActive(), 2);
  assert.equal(sink.stats().sent, 500);
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
      onError: (n) => reported += n,
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
    onSent: (topic, n) => perTopic[topic] = (perTopic[topic] ?? 0) + n,
    onBatch: (seconds, size) => {
      assert.ok(seconds >= 0);
      sizes.push(size);
    },
  });
  await sink.send(messages(9));
  await sink.flush();
  assert.deepEqual(perTopic, { logs: 3, metrics: 3, transactions: 3 });
  assert.deepEqual(sizes, [4, 4, 1]);
});

Deno.test("createKafkaSink() exports one producer span per acknowledged message under its header ids", async () => {
  const { createTracer, newTraceparent } = await import("@vigil/shared/tracing");
  const { startOtlpReceiver } = await import("@vigil/tools/testing/otlp_receiver");
  const receiver = startOtlpReceiver();
  const tracer = createTracer({
    service: "producer",
    endpoint: receiver.endpoint,
    log: silentLogger(),
  });
  try {
    const root = newTraceparent();
    const traceId = root.slice(3, 35);
    const msgs = messages(3).map((m, i) => ({
      ...m,
      headers: { traceparent: `00-${traceId}-${String(i + 1).padStart(16, "0")}-01` },
      parentTraceparent: root,
    }));
    const fake = fakeProducer();
    const sink = createKafkaSink({ producer: fake.producer, log: silentLogger(), tracer });
    await sink.send(msgs);
    await sink.flush();
    // The parent field is not sent to Kafka.
    const sent = fake.batches.flatMap((b) => b.topicMessages!.flatMap((t) => t.messages));
    assert.ok(sent.every((m) => !("parentTraceparent" in m)));
    await tracer.close();
    const spans = receiver.spans();
    assert.deepEqual(
      spans.map((s) => [s.name, s.traceId, s.spanId, s.parentSpanId, s.kind]).sort(),
      msgs.map((m, i) => [
        `send ${m.topic}`,
        traceId,
        String(i + 1).padStart(16, "0"),
        root.slice(36, 52),
        4,
      ]).sort(),
    );
  } finally {
    await receiver.close();
  }
});

Deno.test("createKafkaSink() makes no span at all when tracing is off", async () => {
  const { noopTracer } = await import("@vigil/shared/tracing");
  const off = noopTracer();
  let started = 0;
  const counting = {
    ...off,
    startSpan: (...args: Parameters<typeof off.startSpan>) => {
      started++;
      return off.startSpan(...args);
    },
  };
  const sink = createKafkaSink({
    producer: fakeProducer().producer,
    log: silentLogger(),
    tracer: counting,
  });
  await sink.send(messages(50));
  await sink.flush();
  assert.equal(sink.stats().sent, 50);
  assert.equal(started, 0);
});
