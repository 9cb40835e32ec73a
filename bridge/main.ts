/**
 * `deno task bridge`: consumes the Kafka topics logs/metrics/transactions
 * (group `vigil-bridge`) and appends each message exactly once to
 * `vigil:events:{<type>:<p>}` (valid events, in canonical form) or `vigil:{dlq}` (bad
 * input, with the reason; offsets lost to Kafka retention as `gap` entries).
 * Serves /health and /metrics on BRIDGE_PORT.
 *
 * @module
 */
import { configOrExit, resolveKafkaBrokers } from "@vigil/shared/config";
import { createKafka } from "@vigil/shared/kafka";
import { createKeys } from "@vigil/shared/keys";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { createRedis, redisConnection } from "@vigil/shared/redis";
import { ensurePartitionsOrExit, runWorker } from "@vigil/shared/service";
import { serviceTracer } from "@vigil/shared/telemetry";
import { createBridge } from "./bridge.ts";
import { parseBridgeConfig } from "./config.ts";

const config = configOrExit(() => parseBridgeConfig(), "bridge");
const log = createLogger({ service: "bridge", level: config.LOG_LEVEL });
const lifecycle = createLifecycle({ log });
const service = { name: "bridge", log, lifecycle };
const brokers = await resolveKafkaBrokers(config.KAFKA_BROKERS);
const redis = createRedis(redisConnection(config), { log, name: "bridge" });
// quit() lets pending appends finish; a client not connected (Redis out of reach at start) would
// queue it until Redis answers, holding every stop for the lifecycle's 10 s.
lifecycle.onShutdown("redis", () => redis.status === "ready" ? redis.quit() : redis.disconnect());
const keys = createKeys(config.VIGIL_PREFIX);
await ensurePartitionsOrExit(service, redis, {
  metaKey: keys.meta(),
  partitions: config.VIGIL_PARTITIONS,
});
const metrics = new Registry();
const tracer = serviceTracer();
const bridge = createBridge({
  kafka: createKafka({ brokers, clientId: config.KAFKA_CLIENT_ID, log }),
  redis,
  keys,
  log,
  metrics,
  ...(tracer ? { tracer } : {}),
  config: {
    partitions: config.VIGIL_PARTITIONS,
    maxlen: config.BRIDGE_STREAM_MAXLEN,
    concurrency: config.BRIDGE_CONCURRENCY,
    chunkSize: config.BRIDGE_CHUNK_SIZE,
    maxEventBytes: config.BRIDGE_MAX_EVENT_BYTES,
    deadRawBytes: config.BRIDGE_DLQ_RAW_BYTES,
    extraLimits: {
      maxFields: config.BRIDGE_MAX_EXTRA_FIELDS,
      maxBytes: config.BRIDGE_MAX_EXTRA_BYTES,
      maxDepth: config.BRIDGE_MAX_EXTRA_DEPTH,
    },
    gapWarnMs: config.BRIDGE_GAP_WARN_FOR,
    sessionTimeoutMs: config.BRIDGE_SESSION_TIMEOUT,
  },
});
await runWorker(service, {
  worker: bridge,
  metrics,
  config,
  brokers,
  serve: { port: config.BRIDGE_PORT, settings: { port: "BRIDGE_PORT" } },
  fields: { prefix: config.VIGIL_PREFIX },
});
