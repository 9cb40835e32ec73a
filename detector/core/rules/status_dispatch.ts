/**
 * The anomaly the evaluate endpoint stores with `"dispatch": true`: the
 * `status_zscore` assessment of a (status, minute, count) the caller sent, as
 * a firing of that rule. Pure.
 *
 * Its id is deterministic: from the caller's `id` (an idempotency key) when
 * given, else from the content (status, minute, count, severity). The same
 * request sent twice therefore names the same row, and the store's
 * `ON CONFLICT (id) DO NOTHING` keeps one.
 *
 * The firing is then adopted by the rule's episode of that status and
 * severity ({@link adoptDispatched}), so it resolves as the rule's own do
 * (once a whole minute after it passed without the condition), and it starts
 * the rule's cooldown when none runs.
 *
 * @module
 */
import { adoptAnomaly, anomalyId } from "./episodes.ts";
import {
  describeAssessment,
  type ZAssessment,
  type ZScoreConfig,
  type ZScoreState,
} from "./status_zscore.ts";
import type { Firing } from "./types.ts";

const MINUTE = 60_000;

/** What the caller asked to dispatch. */
export interface DispatchRequest {
  /** Caller's idempotency key, when it sent one. */
  key?: string;
  /** Event time of the request (its `timestamp`, else the minute scored), ms. */
  t: number;
}

/**
 * The firing for an anomalous assessment, or null when `a` is not anomalous
 * (nothing to dispatch).
 */
export function dispatchFiring(
  a: ZAssessment,
  c: ZScoreConfig,
  request: DispatchRequest,
): Firing | null {
  if (a.severity === null) return null;
  const id = request.key !== undefined
    ? anomalyId(["api", "status_zscore", request.key])
    : anomalyId(["api", "status_zscore", a.status, a.minute, a.count, a.severity]);
  const described = describeAssessment(a, c);
  return {
    kind: "firing",
    id,
    rule: "status_zscore",
    type: "transactions",
    entity: a.status,
    severity: a.severity,
    eventTime: request.t,
    ...described,
    title: `${described.title} (reported through the API)`,
    details: {
      ...described.details,
      source: "api",
      ...(request.key !== undefined ? { request_id: request.key } : {}),
    },
    evidence: [],
    traceId: null,
    ingestTs: null,
  };
}

/** Make `firing` part of the live rule's episode of its status and severity. */
export function adoptDispatched(state: ZScoreState, firing: Firing, cooldownMs: number): void {
  const minute = Math.floor(Date.parse(String(firing.details.minute)) / MINUTE);
  adoptAnomaly(state.episodes, {
    rule: "status_zscore",
    type: "transactions",
    entity: firing.entity,
    severity: firing.severity,
  }, { id: firing.id, t: firing.eventTime, clearAt: (minute + 2) * MINUTE, cooldownMs });
}
