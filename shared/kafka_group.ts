/**
 * One Kafka consumer group member, as the bridge and the raw archive run it:
 * the consumer settings, group join and crash handling, running until the
 * signal aborts or the consumer fails for good, and a bounded shutdown
 * (stop fetching, let the caller finish its work in flight, leave the group).
 *
 * @module
 */
import type { Consumer, ConsumerRunConfig, Kafka } from "kafkajs";
import { withTimeout } from "./lifecycle.ts";
import type { Logger } from "./log.ts";

/** Options of {@link createConsumerGroup}. */
export interface ConsumerGroupOptions {
  kafka: Pick<Kafka, "consumer">;
  log: Logger;
  groupId: string;
  topics: readonly string[];
  /** kafkajs session timeout. @default {10000} */
  sessionTimeoutMs?: number | undefined;
  shutdownTimeoutMs: number;
  /** kafkajs `minBytes` (unset: kafkajs' default). */
  minBytes?: number;
  /** How to consume (eachBatch and its options). */
  runConfig: ConsumerRunConfig;
  /** Right after the consumer is made, to listen to its instrumentation events. */
  instrument?: (consumer: Consumer) => void;
  /** On every group join: the assignment may have changed. */
  onJoin?: () => void;
  /** On every crash, restarting or not. */
  onCrash?: () => void;
  /** Once consuming. */
  onRunning?: () => void;
  /**
   * At shutdown, after fetching stopped and before leaving the group: finish
   * the work in flight by `deadline` (ms since the epoch). Must not throw.
   */
  drain: (consumer: Consumer, deadline: number) => Promise<void>;
}

/** A running (or not yet running) group member. */
export interface ConsumerGroup {
  /** The kafkajs consumer once `run` started. */
  readonly consumer: Consumer | undefined;
  /** Member of the group now. */
  readonly joined: boolean;
  /** Joined and not failed for good (for the health check). */
  readonly healthy: boolean;
  /** Aborted when shutdown begins. */
  readonly stopping: AbortSignal;
  /** Consume until `signal` aborts (then shut down) or the consumer fails for good (rejects). */
  run(signal: AbortSignal): Promise<void>;
  /** Shut down (idempotent). */
  close(): Promise<void>;
}

/** Create a group member; nothing connects before `run`. */
export function createConsumerGroup(options: ConsumerGroupOptions): ConsumerGroup {
  const { log, topics } = options;
  let consumer: Consumer | undefined;
  let joined = false;
  let crashed: Error | undefined;
  let closing: Promise<void> | undefined;
  const stopped = new AbortController();

  async function stop(): Promise<void> {
    stopped.abort();
    const c = consumer;
    if (!c) return;
    const deadline = Date.now() + options.shutdownTimeoutMs;
    try {
      c.pause(topics.map((topic) => ({ topic })));
    } catch (error) {
      log.warn("cannot pause consumer", { error });
    }
    await options.drain(c, deadline);
    try {
      await withTimeout(c.disconnect(), Math.max(1000, deadline - Date.now()), "disconnect");
    } catch (error) {
      log.warn("consumer disconnect did not finish", { error });
    }
    joined = false;
  }
  const close = () => (closing ??= stop());

  return {
    get consumer() {
      return consumer;
    },
    get joined() {
      return joined;
    },
    get healthy() {
      return joined && !crashed;
    },
    stopping: stopped.signal,
    async run(signal) {
      const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
      const c = options.kafka.consumer({
        groupId: options.groupId,
        maxBytes: 16 * 1024 * 1024,
        maxBytesPerPartition: 2 * 1024 * 1024,
        ...(options.minBytes !== undefined ? { minBytes: options.minBytes } : {}),
        maxWaitTimeInMs: 500,
        sessionTimeout,
        heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
      });
      consumer = c;
      options.instrument?.(c);
      const failed = Promise.withResolvers<void>();
      c.on(c.events.GROUP_JOIN, (e) => {
        joined = true;
        options.onJoin?.();
        log.info("joined consumer group", { assignment: e.payload.memberAssignment });
      });
      c.on(c.events.CRASH, (e) => {
        const error = e.payload.error;
        log.error("consumer crashed", { error, restart: e.payload.restart });
        options.onCrash?.();
        if (!e.payload.restart) {
          crashed = error;
          failed.reject(new Error(`Cannot consume Kafka: ${error.message}`, { cause: error }));
        }
      });
      const aborted = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
      try {
        await c.connect();
        await c.subscribe({ topics: [...topics], fromBeginning: true });
        await c.run(options.runConfig);
        options.onRunning?.();
        await Promise.race([aborted, failed.promise]);
      } finally {
        await close();
      }
    },
    close,
  };
}
