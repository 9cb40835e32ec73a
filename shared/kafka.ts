/**
 * kafkajs client factory: logs through the service's JSON logger and
 * retries with backoff. Services speak only kafkajs, so they run unchanged
 * against a real Kafka.
 *
 * @module
 */
import { Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "./log.ts";

/** Options for {@link createKafka}. */
export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
}

/** Create a kafkajs client. */
export function createKafka(options: KafkaOptions): Kafka {
  const klog = options.log.with({ component: "kafkajs" });
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
      // kafkajs' "TimeoutNegativeWarning" on current runtimes is harmless noise.
      if (level === logLevel.ERROR) klog.error(message, fields);
      else if (level === logLevel.WARN) klog.warn(message, fields);
      else klog.debug(message, fields);
    },
  });
}

export type { Kafka };
