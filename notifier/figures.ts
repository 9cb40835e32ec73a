/**
 * The "Value vs threshold" of a digest row: what was observed and the limit
 * it was judged against, read from the alert's `details` by their shape (so
 * a new rule with the usual keys is shown without a change here). The score
 * is shown only for statistical rules (details with score `bands` or a
 * z-score), where it is what the severity was decided on; for threshold
 * rules the detector's `score` is just the observed value again. Pure.
 *
 * | details keys (rule) | shown |
 * |---|---|
 * | `value`/`observed` + `threshold`/`limit` (generic) | `97.2 vs 90` |
 * | `amount`, `currency`, `threshold` (amount_high) | `1200 EUR vs 1000 EUR` |
 * | `count`, `threshold`, `window_ms` (count rules) | `12 in 5 min vs 10` |
 * | `min_cpu`, `threshold` (cpu_sustained) | `lowest 95% vs 90%` |
 * | `latency_ms`, `threshold_ms` (latency_high) | `1200 ms vs 500 ms` |
 * | `cpu`, `latency_ms`, `cpu_threshold`, `latency_threshold_ms` | `CPU 95% vs 90%, latency 1200 ms vs 500 ms` |
 * | `measure`, `value`, `expected_low/high`, `score`, `bands` (metric_score) | `latency_ms 1930 vs expected 100–250 · score 0.999 (critical ≥ 0.9)` |
 * | `measures[]`, `drivers`, `score`, `bands` (entity_score) | `latency_ms 1930, cpu 97 · score 0.999 (critical ≥ 0.9)` |
 * | `count`, `mean`, `z`, `warning`, `critical` (status_zscore) | `45 in the minute vs mean 3.1 · z 13.5 (critical ≥ 5)` |
 *
 * A resolved row says what it resolved at when the detector knew the
 * reading that cleared it (`resolved_value`, `resolved_details` in the
 * details' keys): `resolved at 320 ms (threshold 500 ms), 10:21:05 UTC`;
 * otherwise when it resolved and what it had fired at.
 *
 * @module
 */
import type { Alert } from "@vigil/shared/schemas/alert";

/** The parts of a row's "Value vs threshold". */
export interface AlertFigures {
  /** What was observed (`1200 ms`), "" when the alert has no figure. */
  observed: string;
  /** What it was judged against (`500 ms`, `expected 100–250`), "" when none. */
  threshold: string;
  /** Statistical rules only: the score and the band it reached. */
  score?: string;
}

/** A number for people: integers as is, others to 4 significant digits (2 decimals from 1,000). */
export function fmtNumber(v: unknown): string | null {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    return typeof v === "string" && v.trim() !== "" && v.length < 40 ? v : null;
  }
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1000) return String(Math.round(v * 100) / 100);
  // Trailing zeros of the digits only (1.000e-10 → 1e-10).
  const [digits, exponent] = v.toPrecision(4).split("e");
  const trimmed = digits!.includes(".") ? digits!.replace(/\.?0+$/, "") : digits!;
  return exponent ? `${trimmed}e${exponent}` : trimmed;
}

function rec(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === "object" && !Array.isArray(v)
    ? v as Record<string, unknown>
    : null;
}

function minutes(ms: unknown): string | null {
  if (typeof ms !== "number" || !(ms > 0)) return null;
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${fmtNumber(ms / 1000)} s`;
}

function unit(v: unknown, suffix: string): string | null {
  const n = fmtNumber(v);
  return n === null ? null : `${n}${suffix}`;
}

/** `{ score: "score 0.9993 (critical ≥ 0.9)" }`: the band of the alert's severity, when known. */
function scorePart(
  score: unknown,
  severity: Alert["severity"],
  bands: { warning?: unknown; critical?: unknown },
  name = "score",
): { score?: string } {
  const s = fmtNumber(score);
  if (s === null) return {};
  const band = severity === "CRITICAL" ? "critical" : severity === "WARNING" ? "warning" : null;
  const limit = band ? fmtNumber(bands[band]) : null;
  return { score: limit !== null ? `${name} ${s} (${band} ≥ ${limit})` : `${name} ${s}` };
}

/** Observed value, threshold and (statistical rules) score of an alert. */
export function alertFigures(a: Pick<Alert, "details" | "score" | "severity">): AlertFigures {
  const d = a.details;
  const bands = rec(d["bands"]);
  // metric_score: one measure against its expected range.
  if (bands && d["measure"] !== undefined && d["value"] !== undefined) {
    const low = fmtNumber(d["expected_low"]), high = fmtNumber(d["expected_high"]);
    return {
      observed: `${d["measure"]} ${fmtNumber(d["value"]) ?? "?"}`,
      threshold: low !== null && high !== null ? `expected ${low}–${high}` : "",
      ...scorePart(d["score"] ?? a.score, a.severity, bands),
    };
  }
  // entity_score: several measures, the drivers first.
  if (bands && Array.isArray(d["measures"])) {
    const drivers = Array.isArray(d["drivers"]) ? d["drivers"].map(String) : [];
    const measures = d["measures"].map(rec).filter((m) => m !== null)
      .sort((x, y) =>
        Number(drivers.includes(String(y["measure"]))) -
        Number(drivers.includes(String(x["measure"])))
      ).slice(0, 3);
    return {
      observed: measures.map((m) => `${m["measure"]} ${fmtNumber(m["value"]) ?? "?"}`).join(", "),
      threshold: "",
      ...scorePart(d["score"] ?? a.score, a.severity, bands),
    };
  }
  // status_zscore: a count per minute against its baseline.
  if ("z" in d && d["count"] !== undefined) {
    const mean = fmtNumber(d["mean"]);
    const z = d["z"];
    return {
      observed: `${fmtNumber(d["count"])} in the minute`,
      threshold: mean !== null && z !== null ? `mean ${mean}` : "no baseline yet",
      ...scorePart(z, a.severity, d, "z"), // no z yet (null): no score
    };
  }
  if (d["cpu_threshold"] !== undefined && d["latency_threshold_ms"] !== undefined) {
    return {
      observed: `CPU ${unit(d["cpu"], "%")} vs ${unit(d["cpu_threshold"], "%")}, latency ${
        unit(d["latency_ms"], " ms")
      }`,
      threshold: unit(d["latency_threshold_ms"], " ms") ?? "",
    };
  }
  if (d["threshold_ms"] !== undefined && d["latency_ms"] !== undefined) {
    return {
      observed: unit(d["latency_ms"], " ms") ?? "",
      threshold: unit(d["threshold_ms"], " ms") ?? "",
    };
  }
  if (d["min_cpu"] !== undefined) {
    return {
      observed: `lowest ${unit(d["min_cpu"], "%")}`,
      threshold: unit(d["threshold"], "%") ?? "",
    };
  }
  if (d["amount"] !== undefined) {
    const cur = typeof d["currency"] === "string" ? ` ${d["currency"]}` : "";
    return {
      observed: unit(d["amount"], cur) ?? "",
      threshold: unit(d["threshold"], cur) ?? "",
    };
  }
  if (d["count"] !== undefined && d["threshold"] !== undefined) {
    const within = minutes(d["window_ms"]);
    return {
      observed: `${fmtNumber(d["count"])}${within ? ` in ${within}` : ""}`,
      threshold: fmtNumber(d["threshold"]) ?? "",
    };
  }
  const value = fmtNumber(d["value"] ?? d["observed"] ?? d["actual"]);
  const threshold = fmtNumber(d["threshold"] ?? d["limit"]);
  return { observed: value ?? "", threshold: value !== null ? threshold ?? "" : "" };
}

/** `hh:mm:ss UTC` of an ISO time, or null. */
function clock(iso: string | null): string | null {
  const t = Date.parse(iso ?? "");
  return Number.isNaN(t) ? null : `${new Date(t).toISOString().slice(11, 19)} UTC`;
}

/**
 * The "Value vs threshold" cell: `1200 ms vs 500 ms`, plus ` · score …` for
 * statistical rules; for a resolved alert `resolved at 10:21:05 UTC (fired
 * at 1200 ms vs 500 ms)`. "" when the alert has no figure.
 */
export function valueVsThreshold(
  a: Pick<Alert, "details" | "score" | "severity" | "status" | "resolved_at"> & ResolvedReading,
): string {
  const f = alertFigures(a);
  const vt = f.observed && f.threshold ? `${f.observed} vs ${f.threshold}` : f.observed;
  const text = [vt, f.score].filter(Boolean).join(" · ");
  if (a.status !== "resolved") return text;
  const at = clock(a.resolved_at);
  const cleared = resolvedAt(a);
  if (cleared) return at ? `${cleared}, ${at}` : cleared;
  const head = at ? `resolved at ${at}` : "resolved";
  return text ? `${head} (fired at ${text})` : head;
}

/** What a resolved alert resolved at (fields of the alert, optional). */
type ResolvedReading = Partial<Pick<Alert, "resolved_value" | "resolved_details">>;

/**
 * `resolved at 320 ms (threshold 500 ms)`: the reading that cleared the
 * condition, in the firing figures' units; null when the value is unknown.
 */
function resolvedAt(
  a: Pick<Alert, "details" | "score" | "severity"> & ResolvedReading,
): string | null {
  const v = a.resolved_value;
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  const reading = rec(a.resolved_details);
  const f = reading
    ? alertFigures({ ...a, details: { ...a.details, ...reading } })
    : { observed: fmtNumber(v) ?? "", threshold: alertFigures(a).threshold };
  const observed = f.observed.replace(/^lowest /, "");
  if (!observed) return null;
  if (!f.threshold) return `resolved at ${observed}`;
  const limit = /^(expected|mean|no baseline)/.test(f.threshold)
    ? f.threshold
    : `threshold ${f.threshold}`;
  return `resolved at ${observed} (${limit})`;
}
