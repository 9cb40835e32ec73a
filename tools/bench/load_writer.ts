/**
 * Bench worker: appends generator traffic (1% anomalous) to the event streams
 * at a steady rate, in 10 ms ticks, stamping `ingest_ts` with the append
 * time like the bridge. Runs in its own thread so the detector under test
 * keeps its event loop to itself.
 *
 * Message in: `{ url, prefix, rate, seconds, users, share }`.
 * Message out: `{ written, seconds, lateTicks }` when done.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { createKeys } from "@vigil/shared/keys";
import { createRedis } from "@vigil/shared/redis";
import { createGenerator, RULE_SCENARIOS } from "@vigil/producer/generator";
import { appendMessages, createMixer } from "./stream_fill.ts";

interface Start {
  url: string;
  prefix: string;
  rate: number;
  seconds: number;
  users: number;
  share: number;
}

self.onmessage = async (e: MessageEvent<Start>) => {
  const { url, prefix, rate, seconds, users, share } = e.data;
  const redis = createRedis(url, { name: "bench-writer" });
  const keys = createKeys(prefix);
  // Rule scenarios only, as in the pre-fill (see detector_bench.ts).
  const mixer = createMixer(
    createGenerator({ seed: 99, users, tag: "lat", scenarios: [...RULE_SCENARIOS] }),
    share,
  );
  let offset = 10_000_000;
  let written = 0;
  let lateTicks = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let tick = start;
  while (performance.now() < end) {
    const now = performance.now();
    const due = Math.floor(((now - start) / 1000) * rate) - written;
    if (due > 0) {
      const messages = mixer.next(Date.now(), due);
      await appendMessages(redis, keys, messages, Date.now(), () => offset++);
      written += messages.length; // normal + injected: the next tick evens out the overshoot
    }
    tick += 10;
    const wait = tick - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else lateTicks++;
  }
  const s = mixer.stats();
  redis.disconnect();
  self.postMessage({ written: s.total, seconds: (performance.now() - start) / 1000, lateTicks });
};
