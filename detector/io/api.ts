/**
 * The detector's HTTP API (served next to /health and /metrics):
 *
 * `POST /api/alerts/evaluate` with `{ "status": "failed", "count": 12,
 * "timestamp"?: ISO | epoch }` scores that count of transactions of that
 * status in the minute of `timestamp` (default: the minute of the newest
 * transaction seen, else now) against the live baseline, with the same code
 * the `status_zscore` rule uses. It changes nothing. 422 for an unknown
 * status or a negative or non-integer count, 400 for a body that is not JSON.
 *
 * @module
 */
import { z } from "zod";
import { formatZodError, timestampSchema, TRANSACTION_STATUSES } from "@vigil/shared/schemas/event";
import { assessStatus, type ZScoreConfig, type ZScoreState } from "../core/rules/status_zscore.ts";

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
  /** Live status_zscore state and the transactions watermark (undefined when the rule is off). */
  zscore(): { state: ZScoreState; watermark: number } | undefined;
  config: ZScoreConfig;
  /** Does this instance own `status` (sharding)? */
  owns(status: string): boolean;
  now?: () => number;
}

function problem(status: number, error: string): Response {
  return Response.json({ error }, { status });
}

/** The API handler; returns undefined for routes it does not serve. */
export function createApiHandler(deps: ApiDeps): (req: Request) => Promise<Response> | undefined {
  const now = deps.now ?? Date.now;
  return (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/api/alerts/evaluate") return undefined;
    return evaluate(req);
  };

  async function evaluate(req: Request): Promise<Response> {
    if (req.method !== "POST") return problem(405, "use POST");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return problem(400, 'body must be JSON: {"status": "failed", "count": 12}');
    }
    const parsed = evaluateRequestSchema.safeParse(body);
    if (!parsed.success) return problem(422, formatZodError(parsed.error));
    const { status, count, timestamp } = parsed.data;
    if (!(TRANSACTION_STATUSES as readonly string[]).includes(status)) {
      return problem(
        422,
        `unknown status "${status.slice(0, 40)}": expected one of ${
          TRANSACTION_STATUSES.join(", ")
        }`,
      );
    }
    const live = deps.zscore();
    if (!live) return problem(503, "the status_zscore rule is disabled");
    if (!deps.owns(status)) {
      return problem(409, `status "${status}" is scored by another detector shard`);
    }
    const at = timestamp !== undefined
      ? Date.parse(timestamp)
      : Number.isFinite(live.watermark)
      ? live.watermark
      : now();
    const a = assessStatus(live.state, deps.config, {
      status,
      minute: Math.floor(at / 60_000),
      count,
    });
    return Response.json({
      ...a,
      anomalous: a.severity !== null,
      thresholds: { warning: deps.config.warning, critical: deps.config.critical },
    });
  }
}
