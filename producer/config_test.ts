import assert from "node:assert/strict";
import { ConfigError } from "@vigil/shared/config";
import { lingerMs, loadProducerConfig } from "./config.ts";

Deno.test("loadProducerConfig() applies defaults", () => {
  const c = loadProducerConfig({});
  assert.equal(c.PRODUCER_PORT, 9101);
  assert.equal(c.PRODUCER_LINGER_MS, undefined, "5 ms, or 200 on the dev Kafka: lingerMs()");
  assert.equal(c.PRODUCER_MAX_BATCH, 1000);
  assert.equal(c.PRODUCER_MAX_IN_FLIGHT, 1, "one batch in flight: every key's order kept");
  assert.equal(c.PRODUCER_IDEMPOTENT, false);
  assert.equal(c.PRODUCER_FLUSH_TIMEOUT, 5000);
  assert.equal(c.KAFKA_BROKERS, undefined);
  assert.equal(c.LOG_LEVEL, "info");
});

Deno.test("loadProducerConfig() reads values and names a bad variable", () => {
  const c = loadProducerConfig({
    KAFKA_BROKERS: "a:9092,b:9093",
    PRODUCER_PORT: "0",
    PRODUCER_IDEMPOTENT: "yes",
  });
  assert.deepEqual(c.KAFKA_BROKERS, ["a:9092", "b:9093"]);
  assert.equal(c.PRODUCER_PORT, 0);
  assert.equal(c.PRODUCER_IDEMPOTENT, true);
  assert.throws(
    () => loadProducerConfig({ PRODUCER_PORT: "99999" }),
    (e: unknown) =>
      e instanceof ConfigError && /Cannot start producer: PRODUCER_PORT/.test(e.message),
  );
  assert.throws(() => loadProducerConfig({ KAFKA_BROKERS: "nohost" }), /KAFKA_BROKERS/);
});

Deno.test("lingerMs(): PRODUCER_LINGER_MS when set, else 200 ms on the dev Kafka and 5 ms elsewhere", () => {
  assert.equal(lingerMs("dev-file", undefined), 200);
  assert.equal(lingerMs("env", undefined), 5);
  assert.equal(lingerMs("default", undefined), 5);
  assert.equal(lingerMs("dev-file", 5), 5);
  assert.equal(lingerMs("env", 20), 20);
});

Deno.test("PRODUCER_FLUSH_TIMEOUT and PRODUCER_LINGER_MS stay within what a timer can wait", () => {
  // 0 gave up the final flush at once (every buffered message lost, exit 1); past 2^31-1 ms
  // the timers fired at once, and Ctrl-C forced the exit without waiting for the flush.
  assert.equal(
    loadProducerConfig({ PRODUCER_FLUSH_TIMEOUT: "1h" }).PRODUCER_FLUSH_TIMEOUT,
    3_600_000,
  );
  for (const v of ["0", "500ms", "2h", "30d"]) {
    assert.throws(
      () => loadProducerConfig({ PRODUCER_FLUSH_TIMEOUT: v }),
      /^ConfigError: Cannot start producer: PRODUCER_FLUSH_TIMEOUT must be between 1s and 1h/,
      v,
    );
  }
  assert.equal(loadProducerConfig({ PRODUCER_LINGER_MS: "0" }).PRODUCER_LINGER_MS, 0);
  assert.equal(loadProducerConfig({ PRODUCER_LINGER_MS: "1m" }).PRODUCER_LINGER_MS, 60_000);
  assert.throws(
    () => loadProducerConfig({ PRODUCER_LINGER_MS: "30d" }),
    /PRODUCER_LINGER_MS must be between 0 and 1m/,
  );
});
