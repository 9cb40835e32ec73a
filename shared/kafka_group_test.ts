import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { silentLogger } from "./log.ts";
import { createConsumerGroup } from "./kafka_group.ts";

Deno.test("a consumer group's health says why it fails before it joined, not a bare fail", () => {
  // With no broker answering, the bridge's and archive's /health said `kafka: fail`, nothing else.
  const group = createConsumerGroup({
    kafka: { consumer: () => assert.fail("nothing connects before run()") } as Pick<
      Kafka,
      "consumer"
    >,
    log: silentLogger(),
    groupId: "g",
    topics: ["logs"],
    shutdownTimeoutMs: 1000,
    runConfig: { eachBatch: () => Promise.resolve() },
    drain: () => Promise.resolve(),
  });
  assert.deepEqual(group.health(), {
    status: "fail",
    message: "not a member of the consumer group yet (waiting for Kafka)",
  });
});
