/**
 * kafkajs client factory: logs through the service's JSON logger and
 * retries with backoff. Services speak only kafkajs, so they run unchanged
 * against a real Kafka.
 *
 * @module
 */
import process from "node:process";
import { Kafka, type LogEntry, logLevel, type Message, type TopicMessages } from "kafkajs";
import { registerKafkaCodecs } from "./kafka_codecs.ts";
import { createRepeatFilter, type Logger } from "./log.ts";

let warningFilterInstalled = false;

/**
 * kafkajs' request queue arms `setTimeout(fn, throttledUntil - now)` with
 * `throttledUntil = -1` when it is not throttled; the runtime clamps that to
 * 1 ms (the behaviour kafkajs expects) but prints a TimeoutNegativeWarning
 * on stderr every time, a raw non-JSON line. Drop that one warning; every
 * other process warning still goes out as before.
 */
export function dropKafkajsTimeoutWarning(): void {
  if (warningFilterInstalled) return;
  warningFilterInstalled = true;
  const original = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string"
      ? rest[0]
      : (rest[0] as { type?: string } | undefined)?.type;
    const name = warning instanceof Error ? warning.name : type;
    if (name === "TimeoutNegativeWarning") return;
    return (original as (...a: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** kafkajs' messages for a member that must rejoin its group (it is told on every request). */
const REJOIN_ERRORS = new Set([
  "The coordinator is not aware of this member",
  "The group is rebalancing, so a rejoin is needed",
  "Specified group generation id is not valid",
]);

/**
 * The level a kafkajs log line is written at. Every line keeps its level except:
 * - an offset out of range (Kafka deleted messages before the consumer read them), logged by
 *   kafkajs as two errors per partition and fetch, dozens a second while a consumer chases the
 *   retention; the bridge and the archive record and log each such gap themselves
 *   (`kafka_gaps.ts`: "messages lost: …"), so kafkajs' own lines about it go to debug;
 * - a member that must rejoin its group (its session expired while Kafka or the process was
 *   stalled): kafkajs logs one error per request that was refused for it (75 lines for one
 *   15-second stall of the dev Kafka), then rejoins and says so once; the refused requests go to
 *   debug and the rejoin is a warning, as kafkajs' own line for a rebalance is.
 */
export function kafkajsLevel(
  level: logLevel,
  message: string,
  fields: { error?: unknown },
): logLevel {
  const error = typeof fields.error === "string" ? fields.error : "";
  const outOfRange = message.startsWith("Offset out of range") ||
    error.includes("offset is not within the range");
  if (outOfRange) return logLevel.DEBUG;
  if (message.startsWith("Response ") && REJOIN_ERRORS.has(error)) return logLevel.DEBUG;
  if (message === "The coordinator is not aware of this member, re-joining the group") {
    return Math.max(level, logLevel.WARN); // kafkajs: ERROR 1 < WARN 2 < DEBUG 5
  }
  return level;
}

/**
 * How often one kafkajs warning or error is written while it repeats: kafkajs
 * writes one per attempt (`Connection error: connect ECONNREFUSED …` and
 * `Failed to connect to seed broker` on every retry of every broker: 46 lines
 * in 45 s from a producer whose Kafka went away).
 */
export const KAFKAJS_REPEAT_MS = 60_000;

/** Options for {@link createKafka}. */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
}

/** Create a kafkajs client (that also reads snappy, LZ4 and zstd batches: `kafka_codecs.ts`). */
export function createKafka(options: KafkaOptions): Kafka {
  dropKafkajsTimeoutWarning();
  registerKafkaCodecs();
  const klog = options.log.with({ component: "kafkajs" });
  const seen = createRepeatFilter(KAFKAJS_REPEAT_MS);
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 100, retries: 12, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log;
      const fields = { namespace, ...rest };
      const shown = kafkajsLevel(level, message, rest);
      if (shown !== logLevel.ERROR && shown !== logLevel.WARN) return klog.debug(message, fields);
      const { write, held } = seen(`${namespace} ${message}`);
      if (!write) return klog.debug(message, fields);
      const line = held ? { ...fields, repeated: held } : fields;
      if (shown === logLevel.ERROR) klog.error(message, line);
      else klog.warn(message, line);
    },
  });
}

/**
 * `sendBatch`'s `topicMessages`: `items` grouped by topic (topics in order of
 * first appearance, messages in order within each topic).
 */
export function topicMessages<T>(
  items: Iterable<T>,
  topicOf: (item: T) => string,
  toMessage: (item: T) => Message,
): TopicMessages[] {
  return [...Map.groupBy(items, (item) => topicOf(item))]
    .map(([topic, list]) => ({ topic, messages: list.map((item) => toMessage(item)) }));
}
