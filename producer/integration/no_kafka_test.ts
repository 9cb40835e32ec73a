/**
 * The producer started with no Kafka listening: one log line per retry (no
 * stack traces), each with a hint, then one clear error naming the brokers
 * and what to do, and exit code 1.
 */
import assert from "node:assert/strict";
import { closedPort } from "@vigil/tools/testing/ports";
import { spawnService } from "@vigil/tools/testing/services";
import { startSilentServer } from "@vigil/tools/testing/silent_server";
import { withKafka } from "@vigil/tools/testing/kafka";

Deno.test("producer with no Kafka: one line per retry, a hint, a clear error, exit 1", async () => {
  const port = closedPort();
  const producer = await spawnService("producer", {
    KAFKA_BROKERS: `127.0.0.1:${port}`,
    PRODUCER_PORT: "0",
    PRODUCER_CONNECT_TIMEOUT: "4s",
  }, ["--count", "10"]);
  const status = await producer.status;
  const lines = producer.lines();
  const output = producer.tail(100);
  assert.equal(status.code, 1, output);
  assert.ok(lines.every((l) => !l.raw), `only JSON lines:\n${output}`);
  assert.ok(!/"stack"|\\n\s+at /.test(output), `no stack traces:\n${output}`);
  const retries = lines.filter((l) => l.msg === "cannot reach Kafka, retrying");
  // Attempts every 125 ms … 5 s within 4 s: a handful, never dozens.
  assert.ok(retries.length >= 2 && retries.length <= 8, `retries: ${retries.length}\n${output}`);
  retries.forEach((l, i) => {
    assert.equal(l.attempt, i + 1, "one line per attempt");
    assert.match(String(l.hint), /KAFKA_BROKERS/);
  });
  const errors = lines.filter((l) => l.level === "error");
  assert.equal(errors.length, 1, output);
  assert.match(
    String(errors[0]!.msg),
    new RegExp(
      `^Cannot start producer: Kafka unreachable at 127\\.0\\.0\\.1:${port} .*KAFKA_BROKERS`,
    ),
  );
  // Nothing but the retries, the error and the shutdown lines.
  assert.ok(lines.length <= retries.length + 4, output);
});

Deno.test("producer with a replay file it cannot use: says so before trying Kafka, exit 1", async () => {
  for (
    const [file, message] of [
      [
        "/nonexistent/replay.csv",
        /^Cannot read replay file \/nonexistent\/replay\.csv: No such file/,
      ],
      ["README.md", /^Cannot parse replay file: header /],
    ] as const
  ) {
    const producer = await spawnService("producer", {
      KAFKA_BROKERS: `127.0.0.1:${closedPort()}`,
      PRODUCER_PORT: "0",
      PRODUCER_CONNECT_TIMEOUT: "4s",
    }, ["--replay", file]);
    const status = await producer.status;
    const output = producer.tail(20);
    assert.equal(status.code, 1, output);
    const lines = producer.lines();
    assert.equal(lines.filter((l) => l.msg === "cannot reach Kafka, retrying").length, 0, output);
    const error = lines.find((l) => l.level === "error");
    assert.match(
      String((error?.error as { message?: string } | undefined)?.message),
      message,
      output,
    );
  }
});

Deno.test(
  "producer pointed at a port that is not Kafka's: says so within PRODUCER_CONNECT_TIMEOUT, exit 1",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // Accepts connections and answers nothing, like another service's port.
    const silent = startSilentServer();
    const port = silent.port;
    try {
      const producer = await spawnService("producer", {
        KAFKA_BROKERS: `127.0.0.1:${port}`,
        PRODUCER_PORT: "0",
        PRODUCER_CONNECT_TIMEOUT: "2s",
      }, ["--count", "10"]);
      const status = await producer.status;
      const output = producer.tail(100);
      assert.equal(status.code, 1, output);
      const errors = producer.lines().filter((l) =>
        l.level === "error" && l.component !== "kafkajs"
      );
      assert.equal(errors.length, 1, output);
      assert.equal(
        errors[0]!.msg,
        `Cannot start producer: 127.0.0.1:${port} accepts connections but did not answer as a Kafka broker within 2 s (is it another service's port?); check KAFKA_BROKERS (host:port of your brokers, comma-separated)`,
      );
    } finally {
      await silent.close();
    }
  },
);

Deno.test(
  "producer interrupted while it starts (a big replay file read, Kafka connecting) stops there: no start, no 'finished'",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // A port that accepts and answers nothing: connecting would wait PRODUCER_CONNECT_TIMEOUT.
    const silent = startSilentServer();
    const port = silent.port;
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/big.csv`;
      const t0 = Date.parse("2025-01-01T00:00:00Z");
      const rows = Array.from({ length: 400_000 }, (_, i) => `${t0 + i * 1000},${i % 97}`);
      await Deno.writeTextFile(file, `timestamp,value\n${rows.join("\n")}\n`);
      const started = Date.now();
      const producer = await spawnService("producer", {
        KAFKA_BROKERS: `127.0.0.1:${port}`,
        PRODUCER_PORT: "0",
        PRODUCER_CONNECT_TIMEOUT: "60s",
      }, ["--replay", file]);
      await new Promise((r) => setTimeout(r, 1500)); // started, reading the file
      await producer.kill("SIGINT");
      const status = await producer.status;
      const output = producer.tail(40);
      assert.equal(status.code, 130, output);
      assert.ok(
        Date.now() - started < 20_000,
        `stopped at once, not after kafkajs' 30 s:\n${output}`,
      );
      const said = producer.lines().map((l) => l.msg);
      for (const msg of ["producer started", "finished", "ops server listening"]) {
        assert.ok(!said.includes(msg), `"${msg}" after Ctrl-C:\n${output}`);
      }
    } finally {
      await silent.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("producer with PRODUCER_IDEMPOTENT on the dev Kafka: says the setting needs a real Kafka, exit 2", async () => {
  // It said the brokers "did not answer as a Kafka broker within 30 s" (after 20 ms), and to
  // restart a dev Kafka that was running fine.
  await withKafka({ topics: ["logs", "metrics", "transactions"] }, async (cluster) => {
    const producer = await spawnService("producer", {
      KAFKA_BROKERS: cluster.bootstrap,
      PRODUCER_PORT: "0",
      PRODUCER_IDEMPOTENT: "true",
    }, ["--count", "10"]);
    const status = await producer.status;
    const output = producer.tail(20);
    assert.equal(status.code, 2, output);
    const errors = producer.lines().filter((l) => l.level === "error");
    assert.equal(errors.length, 1, output);
    assert.match(
      String(errors[0]!.msg),
      /^Cannot start producer: Kafka at .* refused an idempotent producer \(.+\): PRODUCER_IDEMPOTENT needs a Kafka that supports it \(the dev Kafka does not\): unset it/,
    );
    assert.doesNotMatch(output, /did not answer as a Kafka broker/);
  });
});
