import assert from "node:assert/strict";
import { createLogger } from "./log.ts";
import { afterKafka, brokerSource, kafkaHint, waitForKafka } from "./kafka_connect.ts";

function recorder() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ service: "t", write: (l) => lines.push(JSON.parse(l)) });
  return { lines, log };
}

Deno.test("waitForKafka() logs one line per failed attempt and resolves when a broker answers", async () => {
  const { lines, log } = recorder();
  let calls = 0;
  let clock = 0;
  await waitForKafka({
    brokers: ["a:1", "b:2"],
    source: "default",
    log,
    probe: (b) => {
      calls++;
      return calls >= 5 && b === "b:2" ? Promise.resolve() : Promise.reject(new Error("refused"));
    },
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
  });
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.deepEqual(lines.map((l) => l.attempt), [1, 2]);
  assert.equal(lines[0]!.msg, "cannot reach Kafka, retrying");
  assert.match(String(lines[0]!.hint), /deno task kafka/);
});

Deno.test("waitForKafka() gives up at the deadline with the brokers, the reason and the hint", async () => {
  const { lines, log } = recorder();
  let clock = 0;
  await assert.rejects(
    waitForKafka({
      brokers: ["127.0.0.1:1"],
      source: "env",
      log,
      timeoutMs: 10_000,
      probe: () => Promise.reject(new Error("Connection refused")),
      now: () => clock,
      sleep: (ms) => {
        clock += ms;
        return Promise.resolve();
      },
    }),
    /^Error: Cannot start producer: Kafka unreachable at 127\.0\.0\.1:1 \(Connection refused\); check KAFKA_BROKERS/,
  );
  assert.ok(clock >= 10_000 && clock < 16_000, `waited ${clock} ms`);
  assert.ok(lines.length >= 3 && lines.length <= 8, `${lines.length} lines`);
});

Deno.test("brokerSource() and kafkaHint() point at deno task kafka or KAFKA_BROKERS", () => {
  assert.equal(brokerSource(["k:9092"], ["k:9092"]), "env");
  assert.equal(brokerSource(undefined, ["localhost:9092"]), "default");
  assert.equal(brokerSource(undefined, ["127.0.0.1:40001", "127.0.0.1:40002"]), "dev-file");
  assert.match(kafkaHint("default"), /`deno task kafka`.*KAFKA_BROKERS/);
  assert.match(kafkaHint("dev-file"), /\.vigil\/kafka_brokers.*`deno task kafka`/);
  assert.match(kafkaHint("env"), /KAFKA_BROKERS/);
});

Deno.test("afterKafka() runs the worker once a broker accepts connections, and not at all when stopped first", async () => {
  const { lines, log } = recorder();
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = free.addr.port;
  free.close(); // nothing listens there yet
  let ran = 0;
  const worker = {
    checks: { kafka: () => false },
    run: (_signal: AbortSignal) => {
      ran++;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const wrapped = afterKafka(worker, { brokers: [`127.0.0.1:${port}`], source: "env", log });
  assert.equal(wrapped.checks, worker.checks);
  let listener: Deno.TcpListener | undefined;
  const opened = setTimeout(() => listener = Deno.listen({ hostname: "127.0.0.1", port }), 600);
  try {
    await wrapped.run(new AbortController().signal);
    assert.equal(ran, 1);
    assert.ok(lines.length >= 1, "waited with a line per attempt");
    assert.equal(lines[0]!.msg, "cannot reach Kafka, retrying");
    assert.match(String(lines[0]!.hint), /check KAFKA_BROKERS/);
  } finally {
    clearTimeout(opened);
    listener?.close();
  }
  // Stopped while waiting: it ends without running the worker.
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 300);
  await wrapped.run(stop.signal);
  assert.equal(ran, 1);
});
