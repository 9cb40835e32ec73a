/**
 * The detector's HTTP API (served next to /health and /metrics):
 *
 * `POST /api/alerts/evaluate` with `{ "status": "failed", "count": 12,
 * "timestamp"?: ISO | epoch }` scores that count of transactions of that
 * status in the minute of `timestamp` (default: the minute of the newest
 * transaction seen, else now) against the live baseline, with the same code
 * the `status_zscore` rule uses. It changes nothing. 422 for an unknown
 * status or a negative or non-integer count, 400 for a body that is not JSON,
 * 405 for another method, 409 for a status another instance scores, 503 when the
 * rule is off, 413 for a body over 16 KiB.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import { createBaseApp, httpError, SMALL_BODY_LIMIT_BYTES } from "@vigil/shared/http/app";
import { jsonBody } from "@vigil/shared/http/validate";
import type { Logger } from "@vigil/shared/log";
import { timestampSchema, TRANSACTION_STATUSES } from "@vigil/shared/schemas/event";
import { assessStatus, type ZScoreConfig, type ZScoreState } from "../core/rules/status_zscore.ts";

/** Path of the evaluate endpoint. */
export const EVALUATE_PATH = "/api/alerts/evaluate";

/** Body of POST /api/alerts/evaluate. */
export const evaluateRequestSchema = z.object({
  status: z.string().min(1),
  count: z.number({ error: "count must be a number" }).int("count must be an integer").min(
    0,
    "count must not be negative",
  ),
  timestamp: timestampSchema.optional(),
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
  app.post(
    EVALUATE_PATH,
    jsonBody(evaluateRequestSchema, {
      invalidStatus: 422,
      prefix: "",
      notJsonMessage: 'body must be JSON: {"status": "failed", "count": 12}',
    }),
    (c) => {
      const { status, count, timestamp } = c.req.valid("json");
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
      const at = timestamp !== undefined
        ? Date.parse(timestamp)
        : Number.isFinite(live.watermark)
        ? live.watermark
        : now();
      const config = deps.config();
      const a = assessStatus(live.state, config, {
        status,
        minute: Math.floor(at / 60_000),
        count,
      });
      return c.json({
        ...a,
        anomalous: a.severity !== null,
        thresholds: { warning: config.warning, critical: config.critical },
      });
    },
  );
  app.all(EVALUATE_PATH, (c) => {
    c.header("Allow", "POST");
    return c.json({ error: "use POST" }, 405);
  });
  return app;
}
