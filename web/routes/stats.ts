/**
 * `GET /api/stats`: counts per type and severity per minute or hour.
 *
 * @module
 */
import { Hono } from "hono";
import { POSTGRES_FIRST_MS, statsQuerySchema } from "@vigil/shared/schemas/web_api";
import type { AppDeps } from "../deps.ts";
import { httpError } from "@vigil/shared/http/app";
import { query } from "@vigil/shared/http/validate";
import { anomalyStats } from "../store.ts";

/** Most buckets one request may span. */
const MAX_BUCKETS = 10_080; // a week of minutes

/** Routes under `/api/stats`. */
export function statsRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;
  app.get("/", query(statsQuerySchema), async (c) => {
    const q = c.req.valid("query");
    const bucketMs = q.bucket === "minute" ? 60_000 : 3_600_000;
    const toMs = q.to ?? now();
    // Not before year 1: PostgreSQL refuses year 0 (a `to` in year 1's first hour was a 500).
    const fromMs = q.from ?? Math.max(toMs - 3_600_000, POSTGRES_FIRST_MS);
    if (!(fromMs < toMs)) throw httpError(400, "Cannot read query: from: from must be before to");
    if ((toMs - fromMs) / bucketMs > MAX_BUCKETS) {
      throw httpError(
        400,
        `Cannot read query: range spans more than ${MAX_BUCKETS} ${q.bucket} buckets`,
      );
    }
    return c.json(await anomalyStats(deps.sql, { fromMs, toMs, bucket: q.bucket }));
  });
  return app;
}
