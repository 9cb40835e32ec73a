/**
 * A batch that Redis keeps refusing (a stream full: the detector behind)
 * when the bridge's group generation ends (a member joins or leaves, or this
 * one is expelled). Each attempt after the first heartbeats, and from then on
 * every heartbeat answers "rebalance in progress" (then "unknown member"):
 * the batch was retried for ever without reaching Redis again, inside
 * `eachBatch`, where kafkajs cannot join the group again, so the bridge
 * stayed stuck after Redis took writes again. Now the batch is left
 * unresolved once its generation ended and read again after the join.
 *
 * kafkajs is replaced by a fake consumer that hands the bridge one batch (the
 * dev Kafka's group coordinator did not complete the rejoin in our runs);
 * Redis is real.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import { withRedis } from "@vigil/tools/testing/redis";
import { waitFor } from "@vigil/tools/testing/wait";
import { Registry } from "@vigil/shared/metrics";
import { GROUPS } from "@vigil/shared/keys";
import { createGroup } from "@vigil/shared/redis";
import { silentLogger } from "@vigil/tools/testing/log";
import { numberedLogs } from "@vigil/tools/testing/bridge";
import { createBridge } from "../bridge.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A kafkajs stand-in: `run` keeps the run config; listeners by event name. */
function fakeKafka() {
  const listeners = new Map<string, ((e: unknown) => void)[]>();
  let config: { eachBatch?: (p: EachBatchPayload) => Promise<void> } | undefined;
  const names = ["FETCH", "HEARTBEAT", "GROUP_JOIN", "REBALANCING", "CRASH", "START_BATCH_PROCESS"];
  const consumer = {
    events: Object.fromEntries(names.map((n) => [n, n])),
    on(name: string, fn: (e: unknown) => void) {
      listeners.set(name, [...(listeners.get(name) ?? []), fn]);
      return () => {};
    },
    connect: async () => {},
    subscribe: async () => {},
    run: (c: typeof config) => Promise.resolve(void (config = c)),
    pause: () => {},
    disconnect: async () => {},
    commitOffsets: async () => {},
    seek: () => {},
  };
  const kafka = {
    consumer: () => consumer as unknown as Consumer,
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      describeCluster: () => Promise.resolve({ clusterId: "fake", brokers: [], controller: null }),
    }),
  } as unknown as Pick<Kafka, "consumer" | "admin">;
  const emit = (name: string, payload: unknown) =>
    listeners.get(name)?.forEach((fn) => fn({ payload }));
  return { kafka, emit, eachBatch: () => config?.eachBatch };
}

Deno.test(
  "createBridge() leaves a refused batch unresolved once its group generation ended, instead of retrying it for ever",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const stream = keys.events("logs");
      // The detector is 100 entries behind at MAXLEN 100: every event is refused ("FULL").
      await createGroup(redis, stream, GROUPS.detector);
      for (let i = 0; i < 100; i++) await redis.xadd(stream, "*", "data", "{}");
      const fake = fakeKafka();
      const bridge = createBridge({
        kafka: fake.kafka,
        redis,
        keys,
        log: silentLogger(),
        metrics: new Registry(),
        config: { topics: ["logs"], maxlen: 100 },
      });
      const stop = new AbortController();
      const running = bridge.run(stop.signal);
      try {
        await waitFor(() => fake.eachBatch() !== undefined, { what: "the consumer running" });
        fake.emit("GROUP_JOIN", { memberAssignment: { logs: [0] } });
        const messages = numberedLogs(0, 3).map((m, i) => ({
          offset: String(i),
          key: Buffer.from(String(m.message.key)),
          value: Buffer.from(String(m.message.value)),
          headers: {},
          timestamp: String(Date.now()),
          attributes: 0,
        }));
        const resolved: string[] = [];
        let heartbeats = 0;
        // Kafka has begun a rebalance: every heartbeat from now on is refused.
        const rebalancing = Object.assign(new Error("The group is rebalancing"), {
          type: "REBALANCE_IN_PROGRESS",
        });
        const payload = {
          batch: {
            topic: "logs",
            partition: 0,
            highWatermark: "3",
            messages,
            firstOffset: () => "0",
          },
          resolveOffset: (o: string) => void resolved.push(o),
          heartbeat: () => {
            heartbeats++;
            return Promise.reject(rebalancing);
          },
          isRunning: () => true,
          isStale: () => false,
        } as unknown as EachBatchPayload;
        const done = fake.eachBatch()!(payload).then(() => "returned", (e) => `threw ${e}`);
        const outcome = await Promise.race([
          done,
          new Promise((r) => setTimeout(() => r("still retrying"), 15_000)),
        ]);
        assert.equal(outcome, "returned", `after ${heartbeats} refused heartbeats`);
        assert.deepEqual(resolved, [], "nothing resolved: the batch is read again");
        assert.equal(await redis.xlen(stream), 100, "nothing appended");
      } finally {
        stop.abort();
        await running;
      }
    });
  },
);
