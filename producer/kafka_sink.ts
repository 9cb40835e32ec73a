/**
 * The producer's Kafka sink: buffers generated messages and sends them in
 * batches (many messages per `producer.sendBatch`, across topics), with
 *
 * - linger: a partial batch goes out `lingerMs` after its first message;
 * - backpressure: at most `maxInFlight` batches in flight; `send()` waits
 *   for a free slot once a full batch is buffered, so memory stays bounded
 *   and a slow cluster slows the generator down instead of piling up;
 * - order: one batch in flight by default, so every key's messages reach
 *   their partition in the order they were generated. Concurrent
 *   `sendBatch` calls are not ordered by kafkajs: with 4 in flight, a
 *   scenario's 4,614 readings of one service landed in its partition with
 *   its second to third thousand first, and the detector scored readings 16
 *   days old after newer ones (a false alarm). More in flight measured no
 *   faster here (`--rate max`: about 52,000–59,000 events/s either way);
 * - acks = -1 (all in-sync replicas), no compression;
 * - retries: kafkajs retries each request itself; on top of that a batch
 *   that still fails is retried `retries` times with backoff
 *   (`shared/retry.ts`), then its
 *   messages are counted as errors (at-least-once: a retried batch may be
 *   written twice when the first attempt's response was lost).
 *
 * The kafkajs producer comes in through the narrow {@link BatchProducer}
 * port (only `sendBatch`), so the batching logic is unit-tested with a fake.
 *
 * @module
 */
import type { Message, ProducerBatch, RecordMetadata } from "kafkajs";
import { SpanKind } from "@opentelemetry/api";
import { topicMessages } from "@vigil/shared/kafka";
import { sleep as defaultSleep } from "@vigil/shared/lifecycle";
import { logRetry, retry, RetryError } from "@vigil/shared/retry";
import { type EventType } from "@vigil/shared/schemas/event";
import { type Logger } from "@vigil/shared/log";
import {
  contextOf,
  failSpan,
  injectContext,
  type Span,
  type Tracer,
} from "@vigil/shared/telemetry";
import { type ProducedMessage, SCENARIO_HEADER } from "./scenario_types.ts";
import type { ProducerMetrics } from "./metrics.ts";

/** The one kafkajs producer method the sink uses. */
export interface BatchProducer {
  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]>;
}

/** Options for {@link createKafkaSink}. */
export interface KafkaSinkOptions {
  producer: BatchProducer;
  log: Logger;
  /** Wait this long for more messages before sending a partial batch. @default {5} */
  lingerMs?: number;
  /** Messages per `sendBatch`. @default {1000} */
  maxBatch?: number;
  /** Batches in flight at once; above 1, messages of one key may land out of order. @default {1} */
  maxInFlight?: number;
  /** Extra attempts of a failed batch (after kafkajs' own retries). @default {2} */
  retries?: number;
  /** Base of the retry backoff. @default {200} */
  retryBaseMs?: number;
  /**
   * Told when batch `id` (1, 2, …) begins its first attempt, then once with the same id that it
   * was acknowledged (its duration; and per topic) or given up (with `maxInFlight` above 1, not
   * in the order they began).
   */
  metrics?: Pick<ProducerMetrics, "batchStarted" | "batch" | "sent" | "error">;
  /** Wait between retries (tests). */
  sleep?: (ms: number) => Promise<void>;
  /**
   * When given (tracing on), every message gets a `send <topic>` producer
   * span from its batch's first attempt to its acknowledgement, child of the
   * message's `parentTraceparent` (a scenario's span) or a trace of its own;
   * the span's context replaces the message's `traceparent` header, so the
   * consumers' spans continue it. Absent: the headers are sent as generated
   * and no span is made.
   */
  tracer?: Tracer;
}

/** Counters of a sink. */
export interface SinkStats {
  /** Messages acknowledged by Kafka. */
  sent: number;
  /** Messages given up after every retry. */
  errors: number;
  /** Acknowledged messages by topic. */
  byTopic: Record<EventType, number>;
  /** Messages buffered or in flight. */
  pending: number;
  /** `sendBatch` calls that succeeded. */
  batches: number;
}

/** A batching Kafka sink. */
export interface KafkaSink {
  /** Buffer `messages`; waits (backpressure) while the in-flight window is full. */
  send(messages: readonly ProducedMessage[]): Promise<void>;
  /** Send everything buffered and wait until no batch is in flight. */
  flush(): Promise<void>;
  /** Current counters (a copy). */
  stats(): SinkStats;
}

/** Span names by topic (no string building per message). */
const SEND_NAMES: Record<EventType, string> = {
  logs: "send logs",
  metrics: "send metrics",
  transactions: "send transactions",
};

function toKafkaMessage(m: ProducedMessage): Message {
  return { key: m.key, value: m.value, headers: m.headers };
}

/** Create a sink over a connected producer. */
export function createKafkaSink(options: KafkaSinkOptions): KafkaSink {
  const lingerMs = options.lingerMs ?? 5;
  const maxBatch = Math.max(1, options.maxBatch ?? 1000);
  const maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  const retries = options.retries ?? 2;
  const wait = options.sleep ?? defaultSleep;
  const log = options.log.with({ component: "kafka_sink" });
  const stats: SinkStats = {
    sent: 0,
    errors: 0,
    byTopic: { logs: 0, metrics: 0, transactions: 0 },
    pending: 0,
    batches: 0,
  };
  let buffer: ProducedMessage[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let batchIds = 0;
  const inFlight = new Set<Promise<void>>();
  // Dispatches run one after another, so the in-flight bound is never overshot.
  let gate: Promise<void> = Promise.resolve();

  /** One producer span per message; its context goes into the message's headers. */
  function startSpans(tracer: Tracer, batch: readonly ProducedMessage[]): Span[] {
    const startTime = performance.timeOrigin + performance.now();
    const spans: Span[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i]!;
      const span = tracer.startSpan(SEND_NAMES[m.topic], {
        kind: SpanKind.PRODUCER,
        startTime,
        attributes: {
          "messaging.system": "kafka",
          "messaging.destination.name": m.topic,
          "vigil.scenario": m.headers[SCENARIO_HEADER],
        },
      }, contextOf(m.parentTraceparent));
      injectContext(span, m.headers);
      spans[i] = span;
    }
    return spans;
  }

  /** End the spans of a batch, with its outcome. */
  function endSpans(spans: readonly Span[], attempt: number, error: unknown): void {
    for (const span of spans) {
      if (attempt > 0) span.setAttribute("vigil.retries", attempt);
      if (error !== undefined) failSpan(span, error);
      span.end();
    }
  }

  async function sendWithRetry(batch: ProducedMessage[]): Promise<void> {
    const spans = options.tracer ? startSpans(options.tracer, batch) : undefined;
    const byTopic = topicMessages(batch, (m) => m.topic, toKafkaMessage);
    const request: ProducerBatch = { acks: -1, topicMessages: byTopic };
    let retried = 0;
    const id = ++batchIds;
    options.metrics?.batchStarted(id);
    const logDeliveryRetry = logRetry(log.with({ size: batch.length }), "deliver batch");
    try {
      await retry(async () => {
        const started = performance.now();
        await options.producer.sendBatch(request);
        options.metrics?.batch((performance.now() - started) / 1000, batch.length, id);
      }, {
        maxAttempts: retries + 1,
        baseMs: options.retryBaseMs ?? 200,
        capMs: 5000,
        sleep: wait,
        onRetry: (info) => {
          retried = info.attempt;
          logDeliveryRetry(info);
        },
      });
    } catch (failure) {
      const error = failure instanceof RetryError ? failure.cause : failure;
      if (spans) endSpans(spans, retried, error);
      stats.errors += batch.length;
      log.error("Cannot deliver batch: giving up", {
        size: batch.length,
        attempts: retried + 1,
        error,
      });
      options.metrics?.error(batch.length, error, id);
      return;
    }
    if (spans) endSpans(spans, retried, undefined);
    stats.batches++;
    stats.sent += batch.length;
    for (const { topic, messages } of byTopic) {
      stats.byTopic[topic as EventType] += messages.length;
      options.metrics?.sent(topic as EventType, messages.length);
    }
  }

  function dispatchNext(): Promise<void> {
    const next = gate.then(async () => {
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      const batch = buffer.length <= maxBatch ? buffer : buffer.slice(0, maxBatch);
      buffer = buffer.length <= maxBatch ? [] : buffer.slice(maxBatch);
      if (batch.length === 0) return;
      const p: Promise<void> = sendWithRetry(batch).finally(() => {
        stats.pending -= batch.length;
        inFlight.delete(p);
      });
      inFlight.add(p);
    });
    gate = next.catch(() => {});
    return next;
  }

  function armLinger(): void {
    if (timer !== undefined || buffer.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      dispatchNext().then(armLinger, (error) => log.error("Cannot dispatch batch", { error }));
    }, lingerMs);
  }

  return {
    async send(messages) {
      for (const m of messages) buffer.push(m);
      stats.pending += messages.length;
      while (buffer.length >= maxBatch) await dispatchNext();
      armLinger();
    },
    async flush() {
      clearTimeout(timer);
      timer = undefined;
      while (buffer.length > 0 || inFlight.size > 0) {
        if (buffer.length > 0) await dispatchNext();
        else await Promise.all(inFlight);
      }
      await gate;
    },
    stats: () => ({ ...stats, byTopic: { ...stats.byTopic } }),
  };
}
