/**
 * Before a service hands its brokers to kafkajs (the producer, the bridge,
 * the archive), it checks that one of them accepts a TCP connection, on the
 * shared retry loop: one log line per failed attempt (no stack traces), each
 * with a hint of what to do, and, with a time limit, one clear error when the
 * time is up. kafkajs itself logs two error lines with a stack per internal
 * retry (about 90 a minute).
 *
 * @module
 */
import { errorMessage, type Logger } from "./log.ts";
import { KAFKA_BROKERS_FILE } from "./config.ts";
import { logRetry, retry, RetryError } from "./retry.ts";
import type { Worker } from "./service.ts";

/** Where the broker list came from. */
export type BrokerSource = "env" | "dev-file" | "default";

/** What to tell the user when Kafka does not answer. */
export function kafkaHint(source: BrokerSource): string {
  switch (source) {
    case "env":
      return "check KAFKA_BROKERS (host:port of your brokers, comma-separated)";
    case "dev-file":
      return `the dev Kafka in ${KAFKA_BROKERS_FILE} does not answer: restart it with ` +
        "`deno task kafka` (or run everything with `deno task dev`), or set KAFKA_BROKERS";
    case "default":
      return "no Kafka found: start the dev Kafka with `deno task kafka` in another terminal " +
        "(or run everything with `deno task dev`), or set KAFKA_BROKERS to your brokers";
  }
}

/** Where the broker list came from, given `KAFKA_BROKERS` and the resolved list. */
export function brokerSource(configured: string[] | undefined, resolved: string[]): BrokerSource {
  if (configured?.length) return "env";
  return resolved.length === 1 && resolved[0] === "localhost:9092" ? "default" : "dev-file";
}

/** Open and close a TCP connection to `host:port`. */
export async function tcpProbe(broker: string): Promise<void> {
  const at = broker.lastIndexOf(":");
  const hostname = broker.slice(0, at).replace(/^\[|\]$/g, "");
  const conn = await Deno.connect({ hostname, port: Number(broker.slice(at + 1)) });
  conn.close();
}

/** Options of {@link waitForKafka}. */
export interface WaitForKafkaOptions {
  brokers: string[];
  source: BrokerSource;
  log: Logger;
  /** Give up after this long (Infinity: wait as long as it takes). @default {30000} */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The check of one broker. @default {tcpProbe} */
  probe?: (broker: string) => Promise<void>;
  /** Clock (ms). @default {Date.now} */
  now?: () => number;
  /** Waits (tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Resolve once any broker accepts a connection.
 *
 * @throws {Error} "Cannot start producer: Kafka unreachable at …" with the hint, after `timeoutMs`
 */
export async function waitForKafka(options: WaitForKafkaOptions): Promise<void> {
  const { brokers, log } = options;
  const probe = options.probe ?? tcpProbe;
  const now = options.now ?? Date.now;
  const deadline = now() + (options.timeoutMs ?? 30_000);
  const hint = kafkaHint(options.source);
  try {
    const anyBroker = () =>
      Promise.any(brokers.map((b) => probe(b))).catch((e) => {
        throw e instanceof AggregateError ? e.errors[0] : e;
      });
    await retry(anyBroker, {
      baseMs: 250,
      capMs: 5000,
      isRetryable: () => now() < deadline,
      onRetry: logRetry(log.with({ brokers: brokers.join(","), hint }), "reach Kafka"),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  } catch (failure) {
    if (options.signal?.aborted) throw failure;
    const error = failure instanceof RetryError ? failure.cause : failure;
    const reason = errorMessage(error);
    throw new Error(
      `Cannot start producer: Kafka unreachable at ${brokers.join(",")} (${reason}); ${hint}`,
    );
  }
}

/**
 * `worker` (a consumer that runs until its signal aborts), whose `run` first
 * waits, as long as it takes, for one of `brokers` to accept a connection (one
 * line per attempt with the hint, not kafkajs' two stack traces per internal
 * retry); stopped meanwhile, it ends.
 */
export function afterKafka<W extends Worker>(
  worker: W,
  options: { brokers: string[]; source: BrokerSource; log: Logger },
): W {
  return {
    ...worker,
    close: () => worker.close(),
    async run(signal: AbortSignal) {
      try {
        await waitForKafka({ ...options, timeoutMs: Infinity, signal });
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
      await worker.run(signal);
    },
  };
}
