/**
 * The detector's HTTP API (served next to /health and /metrics):
 *
 * `POST /api/alerts/evaluate` with `{ "status": "failed", "count": 12,
 * "timestamp"?: ISO | epoch }` scores that count of transactions of that
 * status in the minute of `timestamp` (default: the minute of the newest
 * transaction seen, else now) against the live baseline, with the same code
 * the `status_zscore` rule uses. It changes nothing. 422 for an unknown
 * status or a count that is not an integer from 0 to 1,000,000,000, a minute older than the live
 * baseline or ahead of the newest transaction (+ 60 s), or a key it does not
 * know, 400 for a body that is not JSON, 405 for another method (shared/http/app.ts), 409 for a status another instance
 * scores, 503 when the rule is off, 413 for a body over 16 KiB.
 *
 * With `"dispatch": true` (bearer token `VIGIL_API_TOKEN` required: 401
 * without it, 503 when none is configured) an anomalous assessment is also
 * stored, published to the channels and counted, through the detector's own
 * path (io/dispatch in detector.ts). Optional `"id"` is the caller's
 * idempotency key; without it the id comes from the content (status, minute,
 * count, severity). The same request twice stores one anomaly; the same "id" with another
 * status, count or timestamp answers 409. The answer
 * gains `dispatch: { anomaly_id, created, published }`, or
 * `dispatch: { anomaly_id: null, reason }` when there was nothing to raise.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { createBaseApp, httpError, SMALL_BODY_LIMIT_BYTES } from "@vigil/shared/http/app";
import { jsonBody, noQuery } from "@vigil/shared/http/validate";
import { requireBearer } from "@vigil/shared/http/bearer";
import type { Logger } from "@vigil/shared/log";
import { asciiLower, timestampSchema, TRANSACTION_STATUSES } from "@vigil/shared/schemas/event";
import {
  assessStatus,
  oldestTakenMinute,
  type ZScoreConfig,
  type ZScoreState,
} from "../core/rules/status_zscore.ts";
import { dispatchFiring } from "../core/rules/status_dispatch.ts";
import { DEFAULT_FUTURE_SKEW_MS } from "../core/evaluator.ts";
import type { Firing } from "../core/rules/types.ts";
import type { AnomalyEventRow } from "@vigil/shared/anomaly_events";

/** Path of the evaluate endpoint. */
export const EVALUATE_PATH = "/api/alerts/evaluate";

/** Largest count the evaluate API takes (a minute of transactions; beyond a safe integer, counts lose precision). */
const MAX_COUNT = 1_000_000_000;

/** Body of POST /api/alerts/evaluate (a key it does not know is refused: a misspelled one is never ignored). */
export const evaluateRequestSchema = z.strictObject({
  /** Any case, like a transaction's status ("FAILED" is "failed"). */
  status: z.string().min(1).transform(asciiLower),
  count: z.number({ error: "count must be a number" }).refine(
    (n) => Number.isInteger(n) && n >= 0 && n <= MAX_COUNT,
    `count must be an integer from 0 to ${MAX_COUNT.toLocaleString("en-US")}`,
  ),
  timestamp: timestampSchema.optional(),
  /** Also store, publish and count the anomaly (token required). */
  dispatch: z.boolean({ error: "dispatch must be true or false" }).optional(),
  /** Idempotency key of a dispatch (printable, at most 128 characters). */
  id: z.string().regex(
    /^[\x21-\x7e]{1,128}$/,
    "id must be 1-128 printable ASCII characters, no space",
  )
    .optional(),
});

/** What the API reads from the running detector. */
export interface ApiDeps {
  /**
   * Live status_zscore state of `status` and its stream's watermark, when
   * this instance consumes the partition that holds it; "elsewhere" when
   * another instance does; undefined when the rule is off.
   */
  zscore(status: string): { state: ZScoreState; watermark: number } | "elsewhere" | undefined;
  /** The rule's settings in force (they change when the rules file is reloaded). */
  config(): ZScoreConfig;
  /**
   * Store, count and publish a dispatched anomaly (detector.dispatch); `stored`: the row stored
   * earlier under its id, when not created now.
   */
  dispatch?(firing: Firing, signal: AbortSignal): Promise<{
    created: boolean;
    published: boolean;
    stored?: Pick<AnomalyEventRow, "entity" | "event_time" | "details"> | undefined;
  }>;
  /** Bearer token required by `dispatch: true`; undefined = dispatch answers 503. */
  token?: string | undefined;
  /** A dispatch that cannot store and publish within this long answers 503. @default {15000} */
  dispatchTimeoutMs?: number;
  log: Logger;
  now?: () => number;
}

/**
 * The evaluate route on a guarded app (JSON errors, body limit
 * {@link SMALL_BODY_LIMIT_BYTES} → 413, control characters in the URL → 400).
 * Mount it on the detector's ops app with `app.route("/", api)`.
 */
export function createEvaluateApp(deps: ApiDeps): Hono {
  const now = deps.now ?? Date.now;
  const app = createBaseApp({ log: deps.log, bodyLimitBytes: SMALL_BODY_LIMIT_BYTES });
  const bearer = requireBearer({
    token: deps.token,
    disabledMessage: "Cannot dispatch: set VIGIL_API_TOKEN on the detector to enable it",
  });
  app.post(
    EVALUATE_PATH,
    noQuery, // `?dispatch=true` would answer without dispatching
    jsonBody(evaluateRequestSchema, {
      invalidStatus: 422,
      prefix: "",
      notJsonMessage: 'body must be JSON: {"status": "failed", "count": 12}',
    }),
    async (c) => {
      const { status, count, timestamp, dispatch, id } = c.req.valid("json");
      // Refusals (401, 503 without a token) are thrown and answered by the app.
      if (dispatch) await bearer(c, () => Promise.resolve());
      if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
        throw httpError(
          422,
          `unknown status "${status.slice(0, 40)}": expected one of ${
            TRANSACTION_STATUSES.join(", ")
          }`,
        );
      }
      const live = deps.zscore(status);
      if (!live) throw httpError(503, "the status_zscore rule is disabled");
      if (live === "elsewhere") {
        throw httpError(409, `status "${status}" is scored by another detector instance`);
      }
      // The newest transaction seen, else now.
      const newest = Number.isFinite(live.watermark) ? live.watermark : now();
      const at = timestamp !== undefined ? Date.parse(timestamp) : newest;
      const config = deps.config();
      const minute = Math.floor(at / 60_000);
      // The rule ignores such a minute as late, and no longer holds the counts of its baseline.
      const oldest = oldestTakenMinute(live.watermark, config);
      if (minute < oldest) {
        throw httpError(
          422,
          `timestamp: the minute ${
            new Date(minute * 60_000).toISOString()
          } is older than the live baseline (the ${config.baseline_minutes} minutes before the newest transaction, from ${
            new Date(oldest * 60_000).toISOString()
          })`,
        );
      }
      // Nor a minute ahead of the stream (a caller's local time read as UTC, a clock ahead): its
      // baseline would be minutes that have not happened yet, taken as empty, and a dispatch
      // would hold the rule's episode and cooldown of the status open until that minute.
      const latest = Math.floor((newest + DEFAULT_FUTURE_SKEW_MS) / 60_000);
      if (minute > latest) {
        throw httpError(
          422,
          `timestamp: the minute ${
            new Date(minute * 60_000).toISOString()
          } is ahead of the newest transaction (${
            new Date(newest).toISOString()
          }): its baseline has not happened yet`,
        );
      }
      const a = assessStatus(live.state, config, { status, minute, count });
      const answer = {
        ...a,
        anomalous: a.severity !== null,
        thresholds: { warning: config.warning, critical: config.critical },
      };
      if (!dispatch) return c.json(answer);
      const firing = dispatchFiring(a, config, {
        t: timestamp !== undefined ? at : Math.floor(at / 60_000) * 60_000,
        ...(id !== undefined ? { key: id } : {}),
      });
      if (!deps.dispatch) throw httpError(503, "Cannot dispatch: not available on this server");
      if (!firing) {
        return c.json({
          ...answer,
          dispatch: { anomaly_id: null, reason: "not anomalous: nothing to dispatch" },
        });
      }
      let outcome;
      try {
        outcome = await deps.dispatch(
          firing,
          AbortSignal.timeout(deps.dispatchTimeoutMs ?? 15_000),
        );
      } catch (error) {
        deps.log.warn("cannot dispatch an anomaly", { anomaly_id: firing.id, error });
        throw httpError(
          503,
          'Cannot dispatch now: PostgreSQL or Redis did not accept the anomaly; retry with the same "id" (without one, a retry in a later minute or after the baseline moved is another anomaly)',
        );
      }
      const { created, published, stored } = outcome;
      // Only a caller's id can name another request (a content id names its content).
      const other = id !== undefined && stored &&
        otherRequest(stored, { status, count, timestamp });
      if (other) {
        throw httpError(
          409,
          `Cannot dispatch: id "${id}" was used for another request (${other}): send a new id for a new request`,
        );
      }
      return c.json({ ...answer, dispatch: { anomaly_id: firing.id, created, published } });
    },
  );
  return app;
}

/**
 * How a request differs from the one whose anomaly is stored under its id (status, count, and
 * the timestamp when it sends one: without, a retry scores a later minute), or null.
 */
function otherRequest(
  stored: Pick<AnomalyEventRow, "entity" | "event_time" | "details">,
  request: { status: string; count: number; timestamp?: string | undefined },
): string | null {
  const count = (stored.details as { count?: unknown }).count;
  if (stored.entity !== request.status) {
    return `status "${request.status}" instead of "${stored.entity}"`;
  }
  if (count !== request.count) return `count ${request.count} instead of ${count}`;
  const t = request.timestamp === undefined ? undefined : Date.parse(request.timestamp);
  if (t !== undefined && t !== stored.event_time.getTime()) {
    return `timestamp ${new Date(t).toISOString()} instead of ${stored.event_time.toISOString()}`;
  }
  return null;
}
