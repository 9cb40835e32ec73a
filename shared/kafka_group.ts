/**
 * One Kafka consumer group member, as the bridge and the raw archive run it:
 * the consumer settings, group join and crash handling, running until the
 * signal aborts, and a bounded shutdown (stop fetching, let the caller
 * finish its work in flight, leave the group).
 *
 * When kafkajs gives up on its consumer (a crash it does not restart, e.g.
 * an error the broker calls non-retriable during a rebalance), the member
 * leaves, waits with backoff and joins again with a new consumer, in the same
 * process: nothing is committed that was not stored, so a rejoin only
 * redelivers. Health reports the member unhealthy meanwhile.
 *
 * @module
 */
import type { Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from "kafkajs";
import type { HealthDetail } from "./http/ops_app.ts";
import { ABORTED, sleep, untilAborted, withTimeout } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import type { Gauge } from "./metrics.ts";
import { backoffMs } from "./retry.ts";

/**
 * How long a batch in flight keeps its member in the group by heartbeating
 * (Kafka's own `max.poll.interval.ms` default). kafkajs heartbeats only
 * between batches or when `eachBatch` asks; a batch waiting on a store out
 * of reach (Redis restarting, S3 stalled) would otherwise miss the session
 * timeout, and the group would move every partition for an outage that no
 * other member can do better against. Past this bound the group may.
 */
const BATCH_HEARTBEAT_LIMIT_MS = 300_000;

/** How often a waiting batch heartbeats (kafkajs sends at most one per `heartbeatInterval`). */
const BATCH_HEARTBEAT_EVERY_MS = 1000;

/** Heartbeat answers that end this member's generation: its partitions may be handed on. */
const GENERATION_ENDED = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "FENCED_INSTANCE_ID",
]);

/** Whether `error` (a heartbeat's) says this member's generation ended. */
export function endsGeneration(error: unknown): boolean {
  return GENERATION_ENDED.has((error as { type?: string } | null)?.type ?? "");
}

/**
 * `config` whose `eachBatch` heartbeats while it runs, for at most {@link BATCH_HEARTBEAT_LIMIT_MS};
 * `onRebalance` hears of a heartbeat that says the generation ended.
 */
function keepingMembership(
  config: ConsumerRunConfig,
  onRebalance?: () => void,
): ConsumerRunConfig {
  const eachBatch = config.eachBatch;
  if (!eachBatch) return config;
  return {
    ...config,
    async eachBatch(payload: EachBatchPayload) {
      const started = Date.now();
      const timer = setInterval(() => {
        if (Date.now() - started > BATCH_HEARTBEAT_LIMIT_MS) return clearInterval(timer);
        // A rejected heartbeat (rebalance under way) is the runner's to act on after the batch.
        payload.heartbeat().catch((error) => {
          if (endsGeneration(error)) onRebalance?.();
        });
      }, BATCH_HEARTBEAT_EVERY_MS);
      try {
        await eachBatch(payload);
      } finally {
        clearInterval(timer);
      }
    },
  };
}

/** Take out of `lag` the partitions `assignment` does not hold. */
async function keepLagOf(
  lag: Gauge,
  assignment: Readonly<Record<string, readonly number[]>>,
): Promise<void> {
  for (const { labels } of (await lag.get()).values) {
    const owned = assignment[String(labels.topic)] ?? [];
    if (!owned.includes(Number(labels.partition))) lag.remove(labels);
  }
}

/** The group settings a consumer service takes (each service has its own defaults). */
export interface GroupSettings {
  /** Kafka consumer group (the service's own by default). */
  groupId?: string;
  /** Topics to consume. @default {TOPICS} */
  topics?: readonly string[];
  /** Kafka group session timeout. @default {10000} */
  sessionTimeoutMs?: number;
  /** Bound on the shutdown's drain and disconnect. @default {8000} */
  shutdownTimeoutMs?: number;
}

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
  /** kafkajs `maxWaitTimeInMs`: how long the broker may hold a fetch for `minBytes`. @default {500} */
  maxWaitMs?: number;
  /** How to consume (eachBatch and its options). */
  runConfig: ConsumerRunConfig;
  /** Right after the consumer is made, to listen to its instrumentation events. */
  instrument?: (consumer: Consumer) => void;
  /** On every group join, with this member's partitions per topic: the assignment may have changed. */
  onJoin?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /**
   * When this member learns its generation ended before it joins again (a rebalance under way, or
   * it was expelled): its partitions may be another member's from now on.
   */
  onRebalance?: () => void;
  /** On every crash, restarting or not. */
  onCrash?: () => void;
  /**
   * The member's lag gauge (labels `topic`, `partition`): at each join, the partitions it no
   * longer owns are taken out (their new owner exports theirs, and a stale copy would be summed
   * with it); at each crash, every one (nothing is consumed until it joins again: a frozen lag
   * would read as current).
   */
  lag?: Gauge;
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
  /**
   * The health check: fails before the member joined, after kafkajs gave up
   * on it or while it restarts it after a crash (until it joined again), and while Kafka has answered neither a
   * fetch nor a heartbeat for two session timeouts (a broker that stalls
   * keeps its connections open, and kafkajs reports nothing until its
   * requests time out).
   */
  health(): boolean | HealthDetail;
  /** Aborted when shutdown begins. */
  readonly stopping: AbortSignal;
  /** Consume until `signal` aborts, then shut down; a consumer kafkajs gave up on is replaced. */
  run(signal: AbortSignal): Promise<void>;
  /** Shut down (idempotent). */
  close(): Promise<void>;
}

/** Create a group member; nothing connects before `run`. */
export function createConsumerGroup(options: ConsumerGroupOptions): ConsumerGroup {
  const { log, topics } = options;
  let consumer: Consumer | undefined;
  let joined = false;
  /** The last crash until the member joins again; `restart`: kafkajs restarts the consumer. */
  let crashed: { error: Error; restart: boolean } | undefined;
  let closing: Promise<void> | undefined;
  const sessionTimeout = options.sessionTimeoutMs ?? 10_000;
  /** When Kafka last answered this member (a join, a fetch or a heartbeat). */
  let answeredAt = Date.now();
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

  /** One consumer's life: undefined when `signal` aborted, else the error kafkajs gave up on. */
  async function runOnce(signal: AbortSignal): Promise<Error | undefined> {
    const c = options.kafka.consumer({
      groupId: options.groupId,
      maxBytes: 16 * 1024 * 1024,
      maxBytesPerPartition: 2 * 1024 * 1024,
      ...(options.minBytes !== undefined ? { minBytes: options.minBytes } : {}),
      maxWaitTimeInMs: options.maxWaitMs ?? 500,
      sessionTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 3)),
    });
    consumer = c;
    crashed = undefined;
    options.instrument?.(c);
    const failed = Promise.withResolvers<Error>();
    const answered = () => {
      answeredAt = Date.now();
    };
    c.on(c.events.FETCH, answered);
    c.on(c.events.HEARTBEAT, answered);
    c.on(c.events.GROUP_JOIN, (e) => {
      answered();
      joined = true;
      crashed = undefined;
      options.onJoin?.(e.payload.memberAssignment);
      if (options.lag) void keepLagOf(options.lag, e.payload.memberAssignment);
      log.info("joined consumer group", { assignment: e.payload.memberAssignment });
    });
    c.on(c.events.REBALANCING, () => options.onRebalance?.());
    c.on(c.events.CRASH, (e) => {
      const error = e.payload.error;
      log.error("consumer crashed", { error, restart: e.payload.restart });
      options.onCrash?.();
      options.lag?.reset();
      crashed = { error, restart: e.payload.restart };
      if (e.payload.restart) joined = false; // not a member until it joins again
      else failed.resolve(error);
    });
    try {
      await c.connect();
      await c.subscribe({ topics: [...topics], fromBeginning: true });
      await c.run(keepingMembership(options.runConfig, options.onRebalance));
    } catch (error) {
      if (signal.aborted) return undefined;
      crashed = { error: error as Error, restart: false };
      return error as Error;
    }
    options.onRunning?.();
    const ended = await untilAborted(failed.promise, signal);
    return ended === ABORTED ? undefined : ended;
  }

  return {
    get consumer() {
      return consumer;
    },
    get joined() {
      return joined;
    },
    health() {
      if (crashed) {
        const what = crashed.restart
          ? "the consumer crashed, kafkajs restarts it"
          : "kafkajs gave up on the consumer";
        return { status: "fail", message: `${what}: ${crashed.error.message}`.slice(0, 300) };
      }
      if (!joined) {
        return {
          status: "fail",
          message: "not a member of the consumer group yet (waiting for Kafka)",
        };
      }
      const silentMs = Date.now() - answeredAt;
      if (silentMs <= 2 * sessionTimeout) return true;
      const seconds = Math.round(silentMs / 1000);
      return {
        status: "fail",
        message: `no answer from Kafka for ${seconds} s (no fetch, no heartbeat)`,
      };
    },
    stopping: stopped.signal,
    async run(signal) {
      for (let attempt = 0; !signal.aborted; attempt++) {
        const error = await runOnce(signal);
        if (!error || signal.aborted) break;
        if (joined) attempt = 0; // it had been consuming: a fresh failure, not a streak
        // kafkajs gave up on this consumer: leave and join again with a new one.
        const c = consumer;
        consumer = undefined;
        joined = false;
        await withTimeout(c!.disconnect(), 5000, "disconnect").catch(() => {});
        const wait = backoffMs(attempt, { baseMs: 1000, capMs: 30_000 });
        log.warn("rejoining the consumer group after a crash", { error, retry_in_ms: wait });
        await sleep(wait, signal).catch(() => {});
      }
      await close();
    },
    close,
  };
}
