/**
 * Bench worker: appends traffic to the event streams at a steady rate, in
 * 10 ms ticks, stamping `ingest_ts` with the append time like the bridge.
 * Runs in its own thread so the detector under test keeps its event loop to
 * itself. The traffic is the producer's generator (1 % anomalous by
 * default), or with `entities` a fixed population of distinct entities
 * (`entity_traffic.ts`, normal traffic only).
 *
 * Message in: `{ url, prefix, rate, seconds, users, share, entities?, progressMs? }`.
 * Messages out: with `progressMs`, `{ progress: written }` that often; then
 * `{ written, seconds, lateTicks }` when done.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { createKeys } from "@vigil/shared/keys";
import { createRedis } from "@vigil/shared/redis";
import { createGenerator } from "@vigil/producer/generator";
import { RULE_SCENARIOS } from "@vigil/producer/scenario_types";
import { createEntityTraffic, type EntityTrafficOptions } from "./entity_traffic.ts";
import { appendMessages, createMixer } from "./stream_fill.ts";

interface Start {
  url: string;
  prefix: string;
  rate: number;
  seconds: number;
  users: number;
  share: number;
  entities?: EntityTrafficOptions;
  progressMs?: number;
}

self.onmessage = async (e: MessageEvent<Start>) => {
  const { url, prefix, rate, seconds, users, share, entities, progressMs } = e.data;
  const redis = createRedis(url, { name: "bench-writer" });
  const keys = createKeys(prefix);
  // Rule scenarios only, as in the pre-fill (see detector_bench.ts).
  const mixer = entities ? undefined : createMixer(
    createGenerator({ seed: 99, users, tag: "lat", scenarios: [...RULE_SCENARIOS] }),
    share,
  );
  const traffic = entities ? createEntityTraffic(entities) : undefined;
  let offset = 10_000_000;
  let written = 0;
  let lateTicks = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let tick = start;
  let nextProgress = start + (progressMs ?? Infinity);
  while (performance.now() < end) {
    const now = performance.now();
    const due = Math.floor(((now - start) / 1000) * rate) - written;
    if (due > 0) {
      const messages = traffic ? traffic.next(Date.now(), due) : mixer!.next(Date.now(), due);
      await appendMessages(redis, keys, messages, Date.now(), () => offset++);
      written += messages.length; // normal + injected: the next tick evens out the overshoot
    }
    if (now >= nextProgress) {
      self.postMessage({ progress: written });
      nextProgress += progressMs!;
    }
    tick += 10;
    const wait = tick - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else lateTicks++;
  }
  redis.disconnect();
  self.postMessage({
    written: mixer ? mixer.stats().total : written,
    seconds: (performance.now() - start) / 1000,
    lateTicks,
  });
};
