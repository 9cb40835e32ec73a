// The header's counters between two reads of the last hour (at start, every minute, after a
// reconnection, the live heartbeat): live alerts move them.

const HOUR_MS = 3_600_000;

function inLastHour(detectedAt, nowMs) {
  return Date.parse(detectedAt) >= nowMs - HOUR_MS;
}

/**
 * What a batch of live alerts changes in the counters: a firing alert counts in its severity and
 * as open; the resolution of an alert detected within the last hour is one open fewer, once.
 * `resolved` (id → detected ms) holds the alerts the page already knows resolved (a listed row,
 * an earlier resolution) and is updated here: a resolution told again, or one the last read of
 * the list already showed, changes nothing.
 */
export function liveDelta(batch, resolved, nowMs) {
  const bySeverity = {};
  let open = 0;
  for (const a of batch) {
    if (a.status === "firing") {
      bySeverity[a.severity] = (bySeverity[a.severity] ?? 0) + 1;
      open++;
    } else if (a.status === "resolved" && !resolved.has(a.id)) {
      resolved.set(a.id, Date.parse(a.detected_at));
      if (inLastHour(a.detected_at, nowMs)) open--;
    }
  }
  return { bySeverity, open };
}

/** The counters with a {@link liveDelta} added; counts never read ("–") are not made up. */
export function addDelta(counts, delta) {
  if (counts.last_hour === undefined) return counts;
  const severities = Object.entries(delta.bySeverity);
  if (delta.open === 0 && severities.length === 0) return counts;
  const lastHour = { ...counts.last_hour };
  for (const [severity, n] of severities) lastHour[severity] = (lastHour[severity] ?? 0) + n;
  return {
    ...counts,
    last_hour: lastHour,
    open_last_hour: Math.max(0, (counts.open_last_hour ?? 0) + delta.open),
  };
}

/** Note the rows of a list read that are resolved (those of the last hour) in `resolved`. */
export function noteResolved(resolved, rows, nowMs) {
  for (const r of rows) {
    if (r.resolved_at && inLastHour(r.detected_at, nowMs)) {
      resolved.set(r.id, Date.parse(r.detected_at));
    }
  }
}

/** Forget the alerts detected over an hour ago: the counters no longer count them. */
export function forgetOld(resolved, nowMs) {
  for (const [id, ms] of resolved) if (!(ms >= nowMs - HOUR_MS)) resolved.delete(id);
}
