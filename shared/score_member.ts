/**
 * The members of the score caches `vigil:scores:<type>:<entity>:<measure>`
 * (sorted sets scored by event time in ms, `shared/keys.ts`): written by the
 * detector, read by its status API and by the web's charts.
 *
 * The form is `ts:score:value[:low:high]`, where `low`/`high` is the band
 * the statistical engine expected the value in. Reading is tolerant: JSON
 * `{"ts","value","score","low","high"}` (validated with zod) is accepted
 * too, an empty or `null` score is "not known yet", anything after a fifth
 * part is ignored, and a band is kept only when both ends are numbers and
 * `low <= high`. Pure.
 *
 * @module
 */
import { type ScorePoint, scorePointSchema } from "./schemas/web_api.ts";

/** The member for one point. */
export function scoreMember(
  p: { t: number; score: number; value: number; low?: number; high?: number },
): string {
  return p.low === undefined || p.high === undefined
    ? `${p.t}:${p.score}:${p.value}`
    : `${p.t}:${p.score}:${p.value}:${p.low}:${p.high}`;
}

const NUM = /^-?\d+(?:\.\d+)?(?:e[-+]?\d+)?$/i;

/**
 * Parse one member; `zscore` (the event time) is the fallback timestamp.
 *
 * @returns the point, or null when the member has neither supported form
 */
export function parseScoreMember(member: string, zscore: number): ScorePoint | null {
  const text = member.trim();
  if (text.startsWith("{")) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return null;
    }
    const withTs = typeof raw === "object" && raw !== null && !("ts" in raw)
      ? { ...raw, ts: zscore }
      : raw;
    const parsed = scorePointSchema.safeParse(withTs);
    return parsed.success ? withBand(parsed.data) : null;
  }
  // `ts:score:value[:low:high]`, possibly followed by a uniqueness suffix.
  const parts = text.split(":");
  if (parts.length < 3) return null;
  const [ts, score, value, low, high] = parts as [string, string, string, string?, string?];
  if (!NUM.test(ts) || !NUM.test(value) || !(NUM.test(score) || score === "" || score === "null")) {
    return null;
  }
  const band = low !== undefined && high !== undefined && NUM.test(low) && NUM.test(high)
    ? { low: Number(low), high: Number(high) }
    : {};
  const parsed = scorePointSchema.safeParse({
    ts: Number(ts),
    value: Number(value),
    score: NUM.test(score) ? Number(score) : null,
    ...band,
  });
  return parsed.success ? withBand(parsed.data) : null;
}

/** The point with its band only when both ends are there and in order. */
function withBand(p: ScorePoint): ScorePoint {
  if (p.low === undefined && p.high === undefined) return p;
  const { low, high, ...rest } = p;
  return low !== undefined && high !== undefined && low <= high ? { ...rest, low, high } : rest;
}
