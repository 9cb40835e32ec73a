import assert from "node:assert/strict";
import type { ProducerBatch, RecordMetadata } from "kafkajs";
import { Registry } from "@vigil/shared/metrics";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import type { ProducerOptions } from "./cli.ts";
import { parseReplayCsv } from "@vigil/tools/testing/csv";
import { type Replay } from "./replay_source.ts";
import type { BatchProducer } from "./kafka_sink.ts";
import { createProducerMetrics, STALLED_BATCH_MS } from "./metrics.ts";
import { runProducer } from "./run.ts";

function recorder(fail = false) {
  const batches: ProducerBatch[] = [];
  const producer: BatchProducer = {
    sendBatch(batch) {
      batches.push(batch);
      return fail
        ? Promise.reject(new Error("broker down"))
        : Promise.resolve([] as RecordMetadata[]);
    },
  };
  const messages = () =>
    batches.flatMap((b) =>
      (b.topicMessages ?? []).flatMap((t) => t.messages.map((m) => ({ topic: t.topic, ...m })))
    );
  return { producer, batches, messages };
}

const base: ProducerOptions = {
  rate: "max",
  scenarios: [],
  scenarioEveryMs: 0,
  seed: 1,
  users: 20_000,
};

Deno.test("runProducer() sends exactly --count events, plus scenarios injected once at start", async () => {
  const rec = recorder();
  const registry = new Registry();
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger(), metrics: createProducerMetrics(registry) },
    { ...base, count: 2500, scenarios: ["error_burst", "large_amount"] },
    new AbortController().signal,
  );
  assert.equal(summary.generated, 2500);
  assert.deepEqual(summary.scenarios.map((s) => s.name), ["error_burst", "large_amount"]);
  const scenarioMessages = summary.scenarios.reduce((n, s) => n + s.messages, 0);
  assert.equal(scenarioMessages, 26);
  assert.equal(summary.sent, 2500 + scenarioMessages);
  assert.equal(rec.messages().length, summary.sent);
  assert.equal(summary.errors, 0);
  assert.equal(summary.ok, true);
  const labelled = rec.messages().filter((m) => m.headers?.["vigil-scenario"] !== undefined);
  assert.equal(labelled.length, scenarioMessages);

  const text = await registry.render();
  assert.match(text, /vigil_producer_events_total\{type="logs"\} \d+/);
  assert.match(text, /vigil_producer_scenarios_total\{scenario="error_burst"\} 1/);
  assert.match(text, /vigil_producer_errors_total 0/);
  const total = [...text.matchAll(/vigil_producer_events_total\{type="\w+"\} (\d+)/g)]
    .reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(total, summary.sent);
});

Deno.test("runProducer() paces a numeric rate", async () => {
  const rec = recorder();
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger() },
    { ...base, rate: 400, durationMs: 1000 },
    new AbortController().signal,
  );
  // Never ahead of schedule (≤ 1 + 400 per second); a loaded machine may lag a little.
  assert.ok(summary.generated <= 402, `generated ${summary.generated}`);
  assert.ok(summary.generated >= 200, `generated ${summary.generated}`);
  assert.equal(summary.sent, summary.generated);
});

Deno.test("runProducer() reports undeliverable events and not ok", async () => {
  const rec = recorder(true);
  const registry = new Registry();
  const metrics = createProducerMetrics(registry);
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger(), metrics },
    { ...base, count: 50, sink: { retries: 1, retryBaseMs: 1 } },
    new AbortController().signal,
  );
  assert.deepEqual([summary.sent, summary.errors, summary.ok], [0, 50, false]);
  // Before: a bare `false`. Now it says what failed and why.
  const health = metrics.health();
  assert.ok(typeof health === "object" && health.status === "fail", JSON.stringify(health));
  assert.match(
    String(health.message),
    /^Kafka has not acknowledged a batch for \d+ s: 1 batch \(50 events\) given up after every retry$/,
  );
  assert.equal(health.error, "broker down");
  assert.match(await registry.render(), /vigil_producer_errors_total 50/);
});

Deno.test("runProducer() stops when the signal aborts", async () => {
  const rec = recorder();
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("SIGINT")), 200);
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger() },
    { ...base, rate: 100 },
    controller.signal,
  );
  assert.ok(summary.generated > 0 && summary.generated <= 40, `generated ${summary.generated}`);
  assert.equal(summary.sent, summary.generated);
  // An open-ended run has no end to miss: Ctrl-C is how it ends.
  assert.equal(summary.interrupted, false);
});

Deno.test("runProducer() says a replay, --count or --duration stopped by the signal before its end is interrupted", async () => {
  // Readings a minute apart at speed 1: the replay would take 29 minutes.
  const csv = "timestamp,value\n" +
    Array.from({ length: 30 }, (_, i) => `${1_700_000_000 + i * 60},${50 + i}`).join("\n");
  const replay = {
    file: "x.csv",
    speed: 1,
    service: "s",
    field: "cpu",
    timestamps: "data",
  } as const;
  for (
    const options of [
      { ...base, replay: { ...replay, data: parseReplayCsv(csv, replay) } },
      { ...base, rate: 100, count: 1_000_000 },
      { ...base, rate: 100, durationMs: 3_600_000 },
    ]
  ) {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("SIGINT")), 200);
    const summary = await runProducer(
      { producer: recorder().producer, log: silentLogger() },
      options,
      controller.signal,
    );
    assert.ok(summary.generated > 0, `generated ${summary.generated}`);
    assert.equal(summary.interrupted, true, JSON.stringify(Object.keys(options)));
    assert.equal(summary.ok, true);
  }
});

Deno.test("runProducer() replays a CSV file", async () => {
  const rec = recorder();
  const csv = "timestamp,value\n" +
    Array.from({ length: 30 }, (_, i) => `${1_700_000_000 + i * 300},${50 + i}`).join("\n");
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger() },
    {
      ...base,
      count: 25,
      replay: {
        file: "/data/ec2.csv",
        speed: "max",
        service: "ec2",
        field: "cpu",
        timestamps: "data",
        data: parseReplayCsv(csv, { service: "ec2", field: "cpu" }),
      },
    },
    new AbortController().signal,
  );
  assert.equal(summary.generated, 25);
  const msgs = rec.messages();
  assert.equal(msgs.length, 25);
  assert.ok(msgs.every((m) => m.topic === "metrics" && m.key === "ec2"));
  assert.equal(msgs[0]!.headers?.["vigil-replay"], "ec2.csv");
  assert.equal(summary.interrupted, false);
});

Deno.test("runProducer() honours a --duration longer than a timer holds (30d): the replay runs to its end", async () => {
  const rec = recorder();
  // 5 readings a minute apart at speed 600: 400 ms of replay.
  const csv = "timestamp,value\n" +
    Array.from({ length: 5 }, (_, i) => `${1_700_000_000 + i * 60},${50 + i}`).join("\n");
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger() },
    {
      ...base,
      durationMs: 30 * 86_400_000,
      replay: {
        file: "x.csv",
        speed: 600,
        service: "s",
        field: "cpu",
        timestamps: "data",
        data: parseReplayCsv(csv, { service: "s", field: "cpu" }),
      },
    },
    new AbortController().signal,
  );
  // Before: setTimeout(30 days) fired after 1 ms, so the run stopped after the first reading.
  assert.equal(summary.generated, 5);
  assert.equal(rec.messages().length, 5);
  assert.equal(summary.interrupted, false);
});

Deno.test("runProducer() replays the raw transaction sample, one event per row", async () => {
  const rec = recorder();
  const lines: string[] = [];
  const summary = await runProducer(
    { producer: rec.producer, log: createLogger({ service: "t", write: (l) => lines.push(l) }) },
    {
      ...base,
      replay: {
        file: new URL("./testdata/transactions_raw.csv", import.meta.url).pathname,
        speed: "max",
        service: "replay",
        field: "cpu",
        timestamps: "data",
      },
    },
    new AbortController().signal,
  );
  assert.equal(summary.generated, 50);
  const msgs = rec.messages();
  assert.equal(msgs.length, 50);
  assert.ok(msgs.every((m) => m.topic === "transactions"));
  const failed = msgs.filter((m) => JSON.parse(String(m.value)).status === "failed");
  assert.equal(failed.length, 10);
  // Before: the start line of a replay gave the generator's rate (200) and no file nor speed.
  const started = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "producer started");
  assert.deepEqual(
    [started?.mode, started?.rate, started?.file, started?.speed],
    ["replay", undefined, "transactions_raw.csv", "max"],
  );
  const start = lines.map((l) => JSON.parse(l)).find((l) =>
    l.msg === "replaying raw transactions, one event each"
  );
  assert.deepEqual(
    [start?.transactions, start?.minutes, start?.by_status],
    [50, 4, { approved: 30, denied: 7, reversed: 3, failed: 10 }],
  );
});

Deno.test("runProducer() rejects an unreadable replay file with a clear error", async () => {
  await assert.rejects(
    () =>
      runProducer(
        { producer: recorder().producer, log: silentLogger() },
        {
          ...base,
          replay: { file: "nope.csv", speed: 60, service: "s", field: "cpu", timestamps: "data" },
        },
        new AbortController().signal,
      ),
    /Cannot read replay file nope.csv: No such file/,
  );
});

Deno.test("runProducer() draws a live line on a terminal", async () => {
  let out = "";
  let t = 0;
  await runProducer(
    {
      producer: recorder().producer,
      log: silentLogger(),
      output: { isTerminal: true, write: (s) => out += s },
      now: () => t += 100,
    },
    { ...base, count: 3000 },
    new AbortController().signal,
  );
  assert.ok(out.startsWith("\r\x1b[2Ksent "), JSON.stringify(out.slice(0, 20)));
  assert.match(
    out,
    /sent [\d,]+ \| [\d,]+\/s \| errors 0 \| logs [\d,]+ metrics [\d,]+ transactions/,
  );
  assert.match(out, /sent 3,000 .*\n$/);
});

Deno.test("the producer's health check fails while a batch waits for Kafka past STALLED_BATCH_MS", async () => {
  let t = 0;
  const metrics = createProducerMetrics(new Registry(), () => t);
  assert.equal(metrics.health(), true);
  metrics.batchStarted(1);
  t = STALLED_BATCH_MS;
  assert.equal(metrics.health(), true);
  t = STALLED_BATCH_MS + 5_000; // Before: ok for as long as Kafka said nothing.
  assert.deepEqual(metrics.health(), {
    status: "fail",
    message: "Kafka has not acknowledged a batch for 20 s",
  });
  metrics.batch(20, 10, 1);
  assert.equal(metrics.health(), true);
  // A later batch waits from its own start, not from an earlier one's.
  metrics.batchStarted(2);
  t += 10_000;
  assert.equal(metrics.health(), true);
  // Given up: a failure until the next batch is acknowledged, saying since when and why.
  metrics.error(10, new Error("broker down"), 2);
  t += 2_000;
  assert.deepEqual(metrics.health(), {
    status: "fail",
    message:
      "Kafka has not acknowledged a batch for 12 s: 1 batch (10 events) given up after every retry",
    error: "broker down",
  });
  metrics.batchStarted(3);
  metrics.error(1_000, "refused", 3);
  assert.deepEqual(metrics.health(), {
    status: "fail",
    message:
      "Kafka has not acknowledged a batch for 12 s: 2 batches (1,010 events) given up after every retry",
    error: "refused",
  });
  metrics.batchStarted(4);
  metrics.batch(0.01, 10, 4);
  assert.equal(metrics.health(), true);
  // Wired through runProducer: a batch Kafka holds fails the check, its acknowledgement clears it.
  const held = Promise.withResolvers<RecordMetadata[]>();
  let sent = 0;
  const stalled: BatchProducer = {
    sendBatch: () => ++sent === 1 ? held.promise : Promise.resolve([]),
  };
  t = 0;
  const wired = createProducerMetrics(new Registry(), () => t);
  const run = runProducer(
    { producer: stalled, log: silentLogger(), metrics: wired },
    { ...base, count: 50 },
    new AbortController().signal,
  );
  while (sent === 0) await new Promise((r) => setTimeout(r, 5));
  t = STALLED_BATCH_MS + 1000;
  assert.equal(typeof wired.health(), "object");
  held.resolve([]);
  assert.equal((await run).sent, 50);
  assert.equal(wired.health(), true);
});

Deno.test("the producer's health check follows each batch in flight when more than one is (PRODUCER_MAX_IN_FLIGHT)", () => {
  let t = 0;
  const metrics = createProducerMetrics(new Registry(), () => t);
  metrics.batchStarted(1);
  t = 10_000;
  metrics.batchStarted(2);
  t = 12_000;
  metrics.batch(2, 10, 2); // the later batch is acknowledged first
  t = STALLED_BATCH_MS + 1_000;
  // Before: the acknowledgement took out the oldest start, batch 1's, and the check passed.
  assert.deepEqual(metrics.health(), {
    status: "fail",
    message: "Kafka has not acknowledged a batch for 16 s",
  });
  metrics.batch(16, 10, 1);
  assert.equal(metrics.health(), true);
  // One given up while another waits: the failure shows, then the other's acknowledgement clears it.
  metrics.batchStarted(3);
  metrics.batchStarted(4);
  metrics.error(10, new Error("broker down"), 3);
  assert.equal(typeof metrics.health(), "object");
  metrics.batch(0.5, 10, 4);
  assert.equal(metrics.health(), true);
  // Given up after another's acknowledgement: not acknowledged since that one, not since its start.
  metrics.batchStarted(6);
  t += 4_000;
  metrics.batchStarted(7);
  metrics.batch(0.1, 10, 7);
  t += 1_000;
  metrics.error(10, new Error("broker down"), 6);
  t += 2_000;
  assert.match(JSON.stringify(metrics.health()), /for 3 s: 1 batch/);
  metrics.batchStarted(8);
  metrics.batch(0.1, 10, 8);
  // An acknowledgement of a batch it never saw start (or twice) moves no other's start.
  metrics.batchStarted(5);
  t += 1_000;
  metrics.batch(0.1, 10, 99);
  t += STALLED_BATCH_MS;
  assert.equal(typeof metrics.health(), "object");
});

Deno.test("runProducer() stops at --duration while Kafka holds a batch, and reports what it could not send", async () => {
  // A Kafka that stopped answering: the first batch never comes back.
  const never: BatchProducer = { sendBatch: () => new Promise(() => {}) };
  const started = Date.now();
  const summary = await runProducer(
    { producer: never, log: silentLogger() },
    { ...base, durationMs: 300, flushTimeoutMs: 200, sink: { maxBatch: 10 } },
    new AbortController().signal,
  );
  const took = Date.now() - started;
  // Before: never (the send waited forever). Generous: a loaded machine took 2.7 s for 0.5 s.
  assert.ok(took < 10_000, `stopped after ${took} ms`);
  assert.equal(summary.sent, 0);
  assert.ok(
    summary.undelivered > 0 && summary.undelivered === summary.generated,
    JSON.stringify(summary),
  );
  assert.equal(summary.ok, false);
});

Deno.test("runProducer() keeps the live line going while Kafka holds a batch: 0/s, not the last rate", async () => {
  let first = true;
  const held: BatchProducer = {
    // The first batch is acknowledged, then Kafka stops answering.
    sendBatch: () => first ? (first = false, Promise.resolve([])) : new Promise(() => {}),
  };
  const lines: string[] = [];
  await runProducer(
    {
      producer: held,
      log: silentLogger(),
      output: { isTerminal: true, write: (l) => lines.push(l) },
    },
    { ...base, rate: 200, durationMs: 1500, flushTimeoutMs: 100, sink: { maxBatch: 10 } },
    new AbortController().signal,
  );
  const drawn = lines.filter((l) => !l.endsWith("\n"));
  // Before: the line was redrawn only between sends, so it froze on the last rate.
  assert.ok(drawn.length >= 3, JSON.stringify(lines));
  assert.match(drawn.at(-1)!, /\| 0\/s \|/);
  assert.match(drawn.at(-1)!, /pending [1-9]/);
});

Deno.test({
  name: "runProducer() stops at --duration while Kafka holds a scenario's batch",
  // Before the fix the run never ended: its timers outlive the failed test.
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  // A Kafka that stopped answering, and a scenario due: its send waits on Kafka too.
  const never: BatchProducer = { sendBatch: () => new Promise(() => {}) };
  const started = Date.now();
  const running = runProducer(
    { producer: never, log: silentLogger() },
    {
      ...base,
      rate: 100,
      scenarios: ["large_amount"],
      scenarioEveryMs: 100,
      durationMs: 400,
      flushTimeoutMs: 200,
      sink: { maxBatch: 10 },
    },
    new AbortController().signal,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const summary = await Promise.race([
    running,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("still running after 3 s")), 3000);
    }),
  ]).finally(() => clearTimeout(timer));
  const took = Date.now() - started;
  assert.ok(took < 2000, `stopped after ${took} ms`); // before: never (the scenario's send waited)
  assert.equal(summary.sent, 0);
  assert.equal(summary.ok, false);
});

Deno.test("runProducer() keeps only the newest scenarios in its summary (an endless run injects forever)", async () => {
  const rec = recorder();
  const summary = await runProducer(
    { producer: rec.producer, log: silentLogger() },
    {
      ...base,
      count: 100,
      scenarios: ["error_burst", "large_amount", "cpu_sustained", "latency_spike", "level_shift"],
      keptScenarios: 2,
    },
    new AbortController().signal,
  );
  assert.equal(summary.scenarioCount, 5);
  assert.deepEqual(summary.scenarios.map((s) => s.name), ["latency_spike", "level_shift"]);
});

Deno.test("runProducer() delivers the rows sent before a replay fails mid-file (the file changed), and says so", async () => {
  const rec = recorder();
  const lines: string[] = [];
  const t0 = Date.UTC(2025, 0, 2, 3, 4, 5);
  const data: Replay = {
    kind: "value",
    streamed: true,
    last: t0 + 999_000,
    checkedFor: "cpu",
    transactions: { transactions: 0, minutes: 0, by_status: {} },
    async *rows() {
      // 600 rows: the replay yields its first batch (500) before it reads on into the error.
      yield Array.from({ length: 600 }, (_, i) => ({ ts: t0 + i * 1000, value: 1, line: i + 2 }));
      await Promise.resolve();
      throw new Error("Cannot replay f.csv: the file changed while it was replayed (test)");
    },
  };
  await assert.rejects(
    () =>
      runProducer(
        {
          producer: rec.producer,
          log: createLogger({ service: "t", write: (l) => lines.push(l) }),
        },
        {
          ...base,
          // A long linger: the rows are still buffered when the replay fails.
          sink: { lingerMs: 60_000 },
          replay: {
            file: "f.csv",
            speed: "max",
            service: "s",
            field: "cpu",
            timestamps: "data",
            data,
          },
        },
        new AbortController().signal,
      ),
    /the file changed while it was replayed/,
  );
  // Before: the buffered rows were dropped unsent and no summary said what went out.
  assert.equal(rec.messages().length, 500);
  const stopped = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "producer stopped");
  assert.deepEqual([stopped?.sent, stopped?.generated], [500, 500]);
});
