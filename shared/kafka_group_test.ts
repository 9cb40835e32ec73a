import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { silentLogger } from "@vigil/tools/testing/log";
import { createConsumerGroup } from "./kafka_group.ts";

/** A group of topic `logs` on `kafka`, doing nothing with its batches. */
const groupOn = (kafka: unknown) =>
  createConsumerGroup({
    kafka: kafka as Pick<Kafka, "consumer">,
    log: silentLogger(),
    groupId: "g",
    topics: ["logs"],
    shutdownTimeoutMs: 1000,
    runConfig: { eachBatch: () => Promise.resolve() },
    drain: () => Promise.resolve(),
  });

Deno.test("a consumer group's health says why it fails before it joined, not a bare fail", () => {
  // With no broker answering, the bridge's and archive's /health said `kafka: fail`, nothing else.
  const group = groupOn({ consumer: () => assert.fail("nothing connects before run()") });
  assert.deepEqual(group.health(), {
    status: "fail",
    message: "not a member of the consumer group yet (waiting for Kafka)",
  });
});

Deno.test("a consumer group's health fails while kafkajs restarts a crashed consumer, until it joins again", async () => {
  // A crash kafkajs restarts itself (a broker gone, a request refused) left the member "joined":
  // /health said ok until two session timeouts had passed without an answer (about 20 s).
  const handlers = new Map<string, (e: unknown) => void>();
  const events = {
    FETCH: "fetch",
    HEARTBEAT: "heartbeat",
    GROUP_JOIN: "join",
    REBALANCING: "rb",
    CRASH: "crash",
  };
  const consumer = {
    events,
    on: (name: string, fn: (e: unknown) => void) => void handlers.set(name, fn),
    connect: () => Promise.resolve(),
    subscribe: () => Promise.resolve(),
    run: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    pause: () => {},
  };
  const group = groupOn({ consumer: () => consumer });
  const stop = new AbortController();
  const running = group.run(stop.signal);
  await new Promise((r) => setTimeout(r, 0));
  handlers.get("join")!({ payload: { memberAssignment: { logs: [0] } } });
  assert.equal(group.health(), true);
  handlers.get("crash")!({
    payload: { error: new Error("Connection error: ECONNREFUSED"), restart: true },
  });
  assert.deepEqual(group.health(), {
    status: "fail",
    message: "the consumer crashed, kafkajs restarts it: Connection error: ECONNREFUSED",
  });
  assert.equal(group.joined, false);
  handlers.get("join")!({ payload: { memberAssignment: { logs: [0] } } });
  assert.equal(group.health(), true);
  stop.abort();
  await running;
});
