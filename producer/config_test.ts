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
