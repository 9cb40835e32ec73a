/**
 * Bench helper: turn the producer generator's messages into event stream
 * entries exactly as the bridge appends them (same fields, same order), and
 * mix in labelled scenarios so that about `anomalousShare` of the messages
 * belong to an anomaly.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import type { Keys } from "@vigil/shared/keys";
import type { Generator } from "@vigil/producer/generator";
import type { ProducedMessage } from "@vigil/producer/scenario_types";

/** The fields of the stream entry the bridge appends for `m` (traceparent empty when absent). */
export function entryFields(
  m: ProducedMessage,
  at: { partition: number; offset: number; ingestTs: number },
): string[] {
  return [
    "data",
    m.value,
    "topic",
    m.topic,
    "partition",
    String(at.partition),
    "offset",
    String(at.offset),
    "key",
    m.key,
    "ingest_ts",
    String(at.ingestTs),
    "traceparent",
    m.headers.traceparent ?? "",
  ];
}

/** Append `messages` to their streams in one pipeline, as the bridge would. */
export async function appendMessages(
  redis: Redis,
  keys: Keys,
  messages: readonly ProducedMessage[],
  ingestTs: number,
  nextOffset: () => number,
): Promise<void> {
  if (messages.length === 0) return;
  const p = redis.pipeline();
  for (const m of messages) {
    const fields = entryFields(m, { partition: 0, offset: nextOffset(), ingestTs });
    p.xadd(keys.events(m.topic), "*", ...fields);
  }
  const results = (await p.exec()) ?? [];
  for (const [error] of results) if (error) throw error;
}

/** A mixer: normal traffic plus scenario injections keeping the anomalous share. */
export function createMixer(gen: Generator, anomalousShare: number) {
  let total = 0;
  let anomalous = 0;
  let injections = 0;
  return {
    /** `n` normal messages at `t`, plus as many injections (ending at `t`) as the share needs. */
    next(t: number, n: number): ProducedMessage[] {
      const out = gen.normal(t, n);
      total += out.length;
      while (anomalous < anomalousShare * total) {
        const name = gen.nextScenario();
        if (!name) break;
        const inj = gen.scenario(name, t);
        out.push(...inj.messages);
        anomalous += inj.messages.length;
        total += inj.messages.length;
        injections++;
      }
      return out;
    },
    stats: () => ({ total, anomalous, injections }),
  };
}
