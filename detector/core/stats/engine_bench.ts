/**
 * Throughput and state size of the shipped engine configuration:
 *
 * ```
 * deno task bench:stats
 * ```
 *
 * Each `update` bench iteration scores {@link BATCH} points, so
 * points/s = BATCH × iter/s (as printed by `deno bench`). Two cases: one
 * series (its state stays in the caches), and {@link SERIES} series updated
 * round-robin (their states do not). The sizes of a state are in the bench
 * names: bytes of typed arrays, checkpoint bytes, and — when the task exposes
 * `gc` — the JavaScript heap and external memory the round-robin states hold,
 * per series. The main series has irregular bumps every 97 points that keep
 * ARTime creating categories (its costly path); the "without bumps" bench is
 * the same daily series without them.
 *
 * @module
 */

import {
  createSeriesState,
  DEFAULT_ENGINE_CONFIG,
  restoreState,
  serializeState,
  type SeriesState,
  stateBytes,
  update,
} from "./engine.ts";
import { dailySeries } from "../../tools/testing/series.ts";

/** Points scored per bench iteration. */
export const BATCH = 10_000;
/** Series of the round-robin case. */
export const SERIES = 1_000;

const { ts, values } = dailySeries({ points: 60_000, seed: 99, amplitude: 15, noise: 3 });
/** The same series without the bumps below: ARTime meets few new shapes. */
const plain = values.slice();
// A few anomalies so the alarm paths run too.
for (let i = 5_000; i < values.length; i += 7_919) values[i]! += 60;
// Irregular bumps so that ARTime keeps meeting new shapes (its costly path).
for (let i = 700; i < values.length; i += 97) values[i]! += (i % 7) * 2;

function warmState(): SeriesState {
  const s = createSeriesState();
  for (let i = 0; i < 10_000; i++) update(s, ts[i]!, values[i]!);
  return s;
}

const single = warmState();
let pos = 10_000;
Deno.bench(`update: ${BATCH} points, one series (points/s = ${BATCH} × iter/s)`, {
  group: "update",
  baseline: true,
}, () => {
  for (let k = 0; k < BATCH; k++) {
    if (pos === values.length) pos = 10_000;
    update(single, ts[pos]!, values[pos]!, DEFAULT_ENGINE_CONFIG);
    pos++;
  }
});

const quiet = createSeriesState();
for (let i = 0; i < 10_000; i++) update(quiet, ts[i]!, plain[i]!);
let qpos = 10_000;
Deno.bench(`update: ${BATCH} points, one series without bumps`, { group: "update" }, () => {
  for (let k = 0; k < BATCH; k++) {
    if (qpos === plain.length) qpos = 10_000;
    update(quiet, ts[qpos]!, plain[qpos]!, DEFAULT_ENGINE_CONFIG);
    qpos++;
  }
});

/** Heap plus external (typed array) bytes in use after a full collection, or NaN without `gc`. */
function memoryInUse(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  gc();
  gc();
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

/** Points each round-robin series has seen before the bench (past ARTime's initialisation). */
const WARM = 1_000;
const before = memoryInUse();
const many: SeriesState[] = [];
for (let j = 0; j < SERIES; j++) {
  const s = createSeriesState();
  for (let i = 0; i < WARM; i++) update(s, ts[i + j]!, values[i + j]!);
  many.push(s);
}
const heldPerSeries = Math.round((memoryInUse() - before) / SERIES);
const arrays = many.map(stateBytes);
const checkpoints = many.map((s) => serializeState(s).length);
const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
const held = Number.isNaN(heldPerSeries) ? "" : `, ${heldPerSeries} bytes of heap in all`;
let tick = WARM + SERIES;
Deno.bench(
  `update: ${BATCH} points over ${SERIES} series round-robin (per series: ${
    mean(arrays)
  } bytes of arrays, checkpoint ${mean(checkpoints)} bytes on average, ${
    Math.max(...checkpoints)
  } at most${held})`,
  { group: "update" },
  () => {
    for (let k = 0; k < BATCH; k++) {
      const j = k % SERIES;
      if (tick >= values.length) tick = WARM + SERIES;
      update(many[j]!, ts[tick]!, values[tick]!, DEFAULT_ENGINE_CONFIG);
      if (j === SERIES - 1) tick++;
    }
  },
);

const checkpoint = serializeState(single);
/** Serialized state of one warmed-up series, in bytes (ASCII text). */
export const STATE_BYTES = new TextEncoder().encode(checkpoint).length;
/** Typed arrays of one warmed-up series in memory, in bytes. */
export const MEMORY_BYTES = stateBytes(single);

Deno.bench(
  `serializeState: one series (${STATE_BYTES} bytes serialised, ${MEMORY_BYTES} bytes of arrays in memory, ${single.artime.nCats} ARTime categories)`,
  {
    group: "checkpoint",
  },
  () => {
    serializeState(single);
  },
);

Deno.bench("restoreState: one series", { group: "checkpoint" }, () => {
  restoreState(checkpoint);
});
