import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { brokerSource, kafkaHint, lingerMs, waitForKafka } from "./connect.ts";

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

Deno.test("lingerMs(): PRODUCER_LINGER_MS when set, else 50 ms on the dev Kafka and 5 ms elsewhere", () => {
  assert.equal(lingerMs("dev-file", undefined), 50);
  assert.equal(lingerMs("env", undefined), 5);
  assert.equal(lingerMs("default", undefined), 5);
  assert.equal(lingerMs("dev-file", 5), 5);
  assert.equal(lingerMs("env", 20), 20);
});
