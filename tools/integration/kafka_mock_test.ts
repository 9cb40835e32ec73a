import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { KafkaApiKey, KafkaErrorCode, startMockKafka } from "../dev/kafka_mock.ts";
import { withKafka } from "../testing/kafka.ts";
import { ROOT, spawnService } from "../testing/services.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "startMockKafka() starts brokers that kafkajs produces to and consumes from",
  opts,
  async () => {
    await withKafka({ brokers: 3, partitions: 3 }, async (cluster) => {
      assert.equal(cluster.brokers.length, 3);
      assert.match(cluster.bootstrap, /^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/);
      const kafka = new Kafka({
        brokers: cluster.brokers,
        clientId: "t",
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 11}`, value: `v${i}` }));
      await producer.send({ topic: "metrics", messages: sent });
      // Fault injection: the next two produce requests fail with a retryable error.
      cluster.pushRequestErrors(KafkaApiKey.Produce, [
        KafkaErrorCode.NotLeaderForPartition,
        KafkaErrorCode.NotLeaderForPartition,
      ]);
      await producer.send({ topic: "metrics", messages: [{ key: "late", value: "v300" }] });
      const consumer = kafka.consumer({ groupId: "g-test" });
      await consumer.connect();
      await consumer.subscribe({ topic: "metrics", fromBeginning: true });
      const got = new Set<string>();
      const done = Promise.withResolvers<void>();
      await consumer.run({
        eachMessage: ({ message }) => {
          got.add(message.value!.toString());
          if (got.size === 301) done.resolve();
          return Promise.resolve();
        },
      });
      await done.promise;
      assert.equal(got.size, 301);
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
    });
  },
);

Deno.test("startMockKafka() broker down/up and leader moves keep every message", opts, async () => {
  const cluster = startMockKafka({ brokers: 3, partitions: 2, topics: ["logs"] });
  try {
    const kafka = new Kafka({
      brokers: cluster.brokers,
      clientId: "t",
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 50, retries: 30, maxRetryTime: 500 },
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: "logs", messages: [{ value: "a" }] });
    cluster.setLeader("logs", 0, 2);
    cluster.setLeader("logs", 1, 3);
    cluster.brokerDown(1);
    const pending = producer.send({
      topic: "logs",
      messages: Array.from({ length: 50 }, (_, i) => ({ value: `m${i}` })),
    });
    await new Promise((r) => setTimeout(r, 500));
    cluster.brokerUp(1);
    await pending;
    // A non-idempotent producer retrying across an outage is at-least-once:
    // every message must be in the log, a retried one may be there twice.
    const consumer = kafka.consumer({ groupId: "g-outage" });
    await consumer.connect();
    await consumer.subscribe({ topic: "logs", fromBeginning: true });
    const got = new Set<string>();
    const done = Promise.withResolvers<void>();
    await consumer.run({
      eachMessage: ({ message }) => {
        got.add(message.value!.toString());
        if (got.size === 51) done.resolve();
        return Promise.resolve();
      },
    });
    const timer = setTimeout(() => done.reject(new Error(`only ${got.size}/51 consumed`)), 20_000);
    await done.promise.finally(() => clearTimeout(timer));
    assert.deepEqual(
      [...got].sort(),
      ["a", ...Array.from({ length: 50 }, (_, i) => `m${i}`)].sort(),
    );
    await Promise.all([consumer.disconnect(), producer.disconnect()]);
  } finally {
    cluster.close();
  }
});

Deno.test("startMockKafka() rejects a broker count below 1", () => {
  assert.throws(() => startMockKafka({ brokers: 0 }), RangeError);
});

Deno.test(
  "deno task kafka: a second dev Kafka with the same brokers file refuses, and the file keeps naming the first",
  opts,
  async () => {
    const dir = `.vigil/test-${crypto.randomUUID().slice(0, 8)}`;
    const file = `${dir}/kafka_brokers`;
    const env = { KAFKA_DEV_BROKERS_FILE: file, KAFKA_DEV_PARTITIONS: "1", LOG_LEVEL: "info" };
    const first = await spawnService("kafka", env);
    try {
      const started = await first.waitForLine((l) => l.msg === "dev kafka started", "started");
      const second = await spawnService("kafka", env);
      const outcome = await Promise.race([
        second.status.then((s) => s.code),
        second.waitForLine((l) => l.msg === "dev kafka started", "a second start")
          .then(() => "started", () => "exited"),
      ]);
      if (outcome === "started") await second.stop();
      assert.equal(outcome === "exited" ? (await second.status).code : outcome, 1, second.tail());
      assert.ok(
        second.lines().some((l) =>
          l.level === "error" &&
          l.msg ===
            `a dev Kafka already runs with ${file} (it holds ${file}.lock): stop it first, or use it with KAFKA_BROKERS=$(cat ${file})`
        ),
        second.tail(),
      );
      assert.equal((await Deno.readTextFile(`${ROOT}${file}`)).trim(), started.bootstrap);
      // Once the first is gone (its lock with it), a new one starts.
      await first.stop();
      const third = await spawnService("kafka", env);
      await third.waitForLine((l) => l.msg === "dev kafka started", "started after the first");
      await third.stop();
    } finally {
      await first.stop().catch(() => {});
      await Deno.remove(`${ROOT}${dir}`, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "deno task kafka: its terminal closed (SIGHUP) stops it, removing its brokers file",
  opts,
  async () => {
    const dir = `.vigil/test-${crypto.randomUUID().slice(0, 8)}`;
    const file = `${dir}/kafka_brokers`;
    const env = { KAFKA_DEV_BROKERS_FILE: file, KAFKA_DEV_PARTITIONS: "1", LOG_LEVEL: "info" };
    const kafka = await spawnService("kafka", env);
    try {
      // The signal goes as soon as the file shows, before the "started" line: a file left naming a
      // cluster that is gone sends every service started on its own there. (Sent after that line,
      // it once came before the task listened for it, under load, and the file stayed.)
      const deadline = Date.now() + 30_000;
      while (!(await Deno.stat(`${ROOT}${file}`).then(() => true, () => false))) {
        assert.ok(Date.now() < deadline, `no brokers file after 30 s: ${kafka.tail()}`);
        await new Promise((r) => setTimeout(r, 1));
      }
      Deno.kill(kafka.pid, "SIGHUP");
      assert.equal((await kafka.status).code, 0, kafka.tail());
      await assert.rejects(Deno.stat(`${ROOT}${file}`), Deno.errors.NotFound, kafka.tail());
    } finally {
      await kafka.stop().catch(() => {});
      await Deno.remove(`${ROOT}${dir}`, { recursive: true }).catch(() => {});
    }
  },
);
