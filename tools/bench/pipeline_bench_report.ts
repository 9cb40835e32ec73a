/**
 * `bench:pipeline` support: medians and ranges over runs, and the Markdown
 * rendering of the report (`test-output/pipeline_bench.md`).
 *
 * @module
 */

/** Median, minimum and maximum of some runs' values. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median and range of `xs` (rounded to `digits`). */
export function spread(xs: readonly number[], digits = 2): Spread {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  const r = (x: number) => Number(x.toFixed(digits));
  return { median: r(mid), min: r(s[0]!), max: r(s[s.length - 1]!) };
}

/** `median (min–max)`, with thousands separators. */
export function fmt(s: Spread): string {
  const n = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return s.min === s.max ? n(s.median) : `${n(s.median)} (${n(s.min)}–${n(s.max)})`;
}

/** Spreads of a numeric field of every run, per key of a record field (per process). */
export function spreadByKey(
  runs: readonly Record<string, number>[],
  digits = 1,
): Record<string, Spread> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  return Object.fromEntries(
    [...keys].sort().map((k) => [k, spread(runs.map((r) => r[k] ?? 0), digits)]),
  );
}

/** A Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** The load of the machine when the report was written (`/proc/loadavg`), and its cores. */
export function machine(): { cores: number; loadavg: string } {
  let loadavg = "";
  try {
    loadavg = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    // not Linux
  }
  return { cores: navigator.hardwareConcurrency, loadavg };
}
