import assert from "node:assert/strict";
import { withRedis, type WithRedisTarget } from "@vigil/tools/testing/redis";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import {
  assertExactlyOnce,
  countAll,
  kafkaCoordinates,
  produceUntil,
  readAll,
  testKafka,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Start `bridge/main.ts` as a real process with the task's permissions. */
function startBridge(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-sys=hostname,osRelease",
      MAIN,
    ],
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Kill `bridge/main.ts` mid-stream on `withTarget`'s Redis, restart it, check exactly once. */
async function killAndRestart(withTarget: WithRedisTarget, partitions = 1): Promise<void> {
  {
    await withKafka({ brokers: 1, partitions: 4 }, async (cluster) => {
      await withTarget(async ({ redis, keys, prefix, env: redisEnv }) => {
        const kafka = testKafka(cluster.brokers);
        const env = {
          ...redisEnv,
          VIGIL_PARTITIONS: String(partitions),
          KAFKA_BROKERS: cluster.bootstrap,
          VIGIL_PREFIX: prefix,
          BRIDGE_PORT: "0",
          BRIDGE_CHUNK_SIZE: "50",
          BRIDGE_SESSION_TIMEOUT: "6s",
          LOG_LEVEL: "error",
        };
        const stopProducing = new AbortController();
        const producing = produceUntil(kafka, stopProducing.signal, { batch: 200, pauseMs: 10 });
        let child: Deno.ChildProcess | undefined;
        try {
          for (let round = 0; round < 1; round++) {
            child = startBridge(env);
            const before = await countAll(redis, keys, partitions);
            // Kill while it consumes: entries are arriving and messages keep coming.
            await waitFor(async () => (await countAll(redis, keys, partitions)) > before + 2000, {
              timeoutMs: 40_000,
              intervalMs: 20,
              what: `bridge round ${round} consuming`,
            });
            child.kill("SIGKILL");
            const status = await child.status;
            assert.equal(status.signal, "SIGKILL");
          }
          child = startBridge(env);
          await new Promise((r) => setTimeout(r, 1000));
          stopProducing.abort();
          const sent = await producing;
          assert.ok(sent > 4000);
          const expected = await kafkaCoordinates(kafka, EVENT_TYPES);
          await waitFor(async () => (await countAll(redis, keys, partitions)) >= expected.length, {
            timeoutMs: 40_000,
            what: "every message in Redis after the restarts",
          });
          await new Promise((r) => setTimeout(r, 500));
          child.kill("SIGTERM");
          assert.equal((await child.status).code, 0, "graceful exit on SIGTERM");
          child = undefined;
          assertExactlyOnce(await readAll(redis, keys, partitions), expected);
        } finally {
          stopProducing.abort();
          await producing.catch(() => 0);
          if (child) {
            try {
              child.kill("SIGKILL");
            } catch { /* already gone */ }
            await child.status;
          }
        }
      });
    });
  }
}

Deno.test(
  "bridge/main.ts killed with SIGKILL mid-stream and restarted loses and duplicates nothing",
  opts,
  () => killAndRestart(withRedis),
);

Deno.test(
  "on a Redis Cluster with 4 partitions, bridge/main.ts killed with SIGKILL loses and duplicates nothing",
  opts,
  () => killAndRestart(withRedisCluster, 4),
);
