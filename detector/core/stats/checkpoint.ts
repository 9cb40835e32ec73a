/**
 * Checkpoints of a series state: {@link serializeState} writes a compact
 * string (JSON with base64 float64 and uint16 payloads, format version 2),
 * {@link restoreState} validates one and gives back a state that scores every
 * later point identically.
 *
 * @module
 */

import { z } from "zod";
import { allocateNetwork, artimeReady, type ArtimeState, rebuildWeightSums } from "./artime.ts";
import { decodeFloat64, decodeUint16, encodeFloat64, encodeUint16 } from "./codec.ts";
import { rebuildBlockRange } from "./new_extreme.ts";
import { allocateSeriesState, historyArrays, RECENT, type SeriesState } from "./series_state.ts";
import { rebuildSorted } from "./sorted_window.ts";

const positiveInt = z.number().int().positive();

const FORMAT_VERSION = 2;

const checkpointSchema = z.object({
  v: z.literal(FORMAT_VERSION),
  /**
   * windowSize, seasonBuckets, rangeBlocks, averagingWindow, blocks,
   * artWindow, artDownsample, artTrendWindow, artLevels, artMaxCategories,
   * ARTime initialisation values held, ARTime categories in use
   */
  dims: z.tuple([
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    positiveInt,
    z.number().int().nonnegative(),
    z.number().int().nonnegative(),
  ]),
  /** scalars, float64 base64 */
  s: z.string(),
  /** arrays, float64 base64 */
  a: z.string(),
  /** ARTime category weights, uint16 base64 */
  c: z.string(),
});

/** ARTime scalars in checkpoint order. */
const ARTIME_SCALARS = [
  "i",
  "dsi",
  "dsHead",
  "dsMa",
  "rawMin",
  "rawMax",
  "dmin",
  "dmax",
  "medlevel",
  "belowmed",
  "abovemed",
  "nCats",
  "tick",
  "rhoLb",
  "rhoUb",
  "lastAnomI",
  "lastAnomSim",
  "lastRhoI",
  "maskAfterCat",
  "noNewCat",
  "simSum",
  "simN",
  "simWindowHead",
  "simDiffHead",
  "anomSimSum",
  "anomSimLast",
  "anomSimN",
] as const satisfies readonly (keyof ArtimeState)[];

const CORE_SCALARS = 22;
const SCALARS = CORE_SCALARS + ARTIME_SCALARS.length;

/**
 * Serialises `state` to a compact string (JSON with base64 float64 and
 * uint16 payloads; at most ≈ 24 KB for the default configuration).
 * {@link restoreState} gives back a state that scores every later point
 * identically.
 */
export function serializeState(state: SeriesState): string {
  const s = state;
  const l = s.likelihood;
  const w = s.window;
  const a = s.artime;
  const scalars = new Float64Array([
    s.n,
    s.missing,
    s.firstTs,
    s.lastTs,
    w.head,
    w.count,
    s.errRecent,
    s.errSeason,
    s.rangeHead,
    s.rangeCount,
    s.rangeCurMin,
    s.rangeCurMax,
    s.rangeCurN,
    s.sinceAlarm,
    l.recentHead,
    l.blockHead,
    l.blockCount,
    l.curSum,
    l.curSumSq,
    l.curN,
    l.mean,
    s.diffMean,
    ...ARTIME_SCALARS.map((k) => a[k]),
  ]);
  const parts = [
    w.ring,
    ...historyArrays(s),
    new Float64Array([l.std]),
    s.recent,
    a.dsRing,
    a.initRaw,
    // ARTime's bookkeeping is still at its initial values during its
    // initialisation period: left out then (restore recreates it).
    ...(artimeReady(a)
      ? [a.medbin, a.fwin, a.used.subarray(0, a.nCats), a.simWindow, a.simDiff]
      : []),
  ];
  let total = 0;
  for (const p of parts) total += p.length;
  const arrays = new Float64Array(total);
  let off = 0;
  for (const p of parts) {
    arrays.set(p, off);
    off += p.length;
  }
  const catWidth = 4 * a.fwin.length;
  return JSON.stringify({
    v: FORMAT_VERSION,
    dims: [
      w.ring.length,
      s.seasonMean.length,
      s.rangeMin.length,
      l.recent.length,
      l.blockSum.length,
      a.fwin.length,
      a.dsRing.length,
      a.simDiff.length - 1,
      a.medbin.length - 1,
      a.used.length,
      a.initRaw.length,
      a.nCats,
    ],
    s: encodeFloat64(scalars),
    a: encodeFloat64(arrays),
    c: encodeUint16(a.cats.subarray(0, a.nCats * catWidth)),
  });
}

function fail(reason: string): never {
  throw new TypeError(`Cannot restore series state: ${reason}`);
}

function index(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 0 || value > max) fail(`${name} ${value} out of range`);
  return value;
}

/**
 * Restores a state from {@link serializeState} output, validating it.
 *
 * @throws {TypeError} if `text` is not a valid checkpoint.
 */
export function restoreState(text: string): SeriesState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    fail("not JSON");
  }
  const parsed = checkpointSchema.safeParse(json);
  if (!parsed.success) {
    fail(`bad checkpoint shape (${parsed.error.issues[0]?.message ?? "invalid"})`);
  }
  const { dims, s: sText, a: aText, c: cText } = parsed.data;
  const [W, B, R, A, K, AW, AD, AT, AL, AM, AI, AN] = dims;
  if (AI !== 0 && AI !== AT) fail(`ARTime initialisation values ${AI} out of range`);
  if (AN > AM || (AI !== 0 && AN !== 0)) fail(`ARTime categories ${AN} out of range`);
  if (![2, 4, 8, 16].includes(AW)) fail(`ARTime window ${AW} out of range`);
  const sc = decodeFloat64(sText);
  const arr = decodeFloat64(aText);
  const cats = decodeUint16(cText);
  if (sc.length !== SCALARS) fail(`expected ${SCALARS} scalars, got ${sc.length}`);
  const half = Math.floor(AT / 2) + 1;
  const ready = AI === 0;
  const expected = W + 3 * B + 2 * R + A + 2 * K + 1 + RECENT + AD + AI +
    (ready ? (AL + 1) + AW + AN + half + (AT + 1) : 0);
  if (arr.length !== expected) fail(`expected ${expected} array values, got ${arr.length}`);
  if (cats.length !== AN * 4 * AW) fail(`expected ${AN * 4 * AW} category weights`);
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i]!)) fail("non-finite array value");
  }
  // The arrays go into a state allocated as a new one is (one buffer), the
  // scalars are checked in the order of the fields.
  const state = allocateSeriesState({
    windowSize: W,
    seasonBuckets: B,
    rangeBlocks: R,
    averagingWindow: A,
    blocks: K,
    artWindow: AW,
    artDownsample: AD,
    artTrendWindow: AT,
    artLevels: AL,
    artMaxCategories: AM,
  }, 0);
  const l = state.likelihood;
  const a = state.artime;
  const w = state.window;
  // In serializeState's order. ARTime's bookkeeping is saved once its initialisation is over
  // (until then it is at its initial values, as allocated).
  let off = 0;
  const fill = (xs: Float64Array[]) => {
    for (const x of xs) x.set(arr.subarray(off, off += x.length));
  };
  fill([w.ring, ...historyArrays(state)]);
  l.std = arr[off++]!;
  if (ready) a.initRaw = new Float64Array(0);
  const bookkeeping = [a.medbin, a.fwin, a.used.subarray(0, AN), a.simWindow, a.simDiff];
  fill([state.recent, a.dsRing, a.initRaw, ...(ready ? bookkeeping : [])]);
  const num = (i: number, name: string) => {
    const v = sc[i]!;
    if (!Number.isFinite(v)) fail(`${name} is not finite`);
    return v;
  };
  state.n = index(sc[0]!, "n", Number.MAX_SAFE_INTEGER);
  w.count = index(sc[5]!, "window count", W);
  w.head = index(sc[4]!, "window head", W - 1);
  if (w.count < W && w.head !== w.count) fail("window head and count disagree");
  rebuildSorted(w);
  const rangeCurMin = sc[10]!;
  const rangeCurMax = sc[11]!;
  if (Number.isNaN(rangeCurMin) || Number.isNaN(rangeCurMax)) fail("range bounds are NaN");
  const as = Object.fromEntries(
    ARTIME_SCALARS.map((k, j) => [k, sc[CORE_SCALARS + j]!]),
  ) as Pick<ArtimeState, (typeof ARTIME_SCALARS)[number]>;
  for (const k of ARTIME_SCALARS) {
    const v = as[k];
    const nanOk = k === "dmin" || k === "dmax";
    const infOk = k === "rawMin" || k === "rawMax";
    if (Number.isNaN(v) ? !nanOk : !Number.isFinite(v) && !infOk) fail(`ARTime ${k} is not finite`);
  }
  if (AI === 0 ? Number.isNaN(as.dmin) || Number.isNaN(as.dmax) : !Number.isNaN(as.dmin)) {
    fail("ARTime range and initialisation disagree");
  }
  // The weights exist once ARTime's initialisation is over (none before).
  if (ready) {
    allocateNetwork(a, { artMaxCategories: AM, artWindow: AW });
    a.cats.set(cats);
  }
  index(as.i, "ARTime points", Number.MAX_SAFE_INTEGER);
  index(as.dsi, "ARTime step", Number.MAX_SAFE_INTEGER);
  index(as.dsHead, "ARTime ring head", AD - 1);
  index(as.medlevel, "ARTime median level", AL);
  index(as.nCats, "ARTime categories", AM);
  index(as.maskAfterCat, "ARTime mask", 1);
  index(as.simWindowHead, "ARTime similarity head", half - 1);
  index(as.simDiffHead, "ARTime gap head", AT);
  Object.assign(a, as);
  if (a.nCats !== AN) fail("ARTime category count disagrees");
  rebuildWeightSums(a);
  state.missing = index(sc[1]!, "missing", Number.MAX_SAFE_INTEGER);
  state.firstTs = num(2, "firstTs");
  state.lastTs = num(3, "lastTs");
  state.errRecent = num(6, "errRecent");
  state.errSeason = num(7, "errSeason");
  state.rangeHead = index(sc[8]!, "range head", R - 1);
  state.rangeCount = index(sc[9]!, "range count", R);
  state.rangeCurMin = rangeCurMin;
  state.rangeCurMax = rangeCurMax;
  state.rangeCurN = index(sc[12]!, "range block fill", Number.MAX_SAFE_INTEGER);
  l.recentHead = index(sc[14]!, "likelihood head", A - 1);
  l.blockHead = index(sc[15]!, "likelihood block head", K - 1);
  l.blockCount = index(sc[16]!, "likelihood block count", K);
  l.curSum = num(17, "likelihood sum");
  l.curSumSq = num(18, "likelihood sum of squares");
  l.curN = index(sc[19]!, "likelihood block fill", Number.MAX_SAFE_INTEGER);
  l.mean = num(20, "likelihood mean");
  state.diffMean = num(21, "mean first difference");
  state.sinceAlarm = index(sc[13]!, "sinceAlarm", Number.MAX_SAFE_INTEGER);
  rebuildBlockRange(state);
  return state;
}
