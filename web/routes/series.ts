/**
 * `GET /api/series/:type/:entity`: recent values and scores of a series
 * from the detector's Redis cache.
 *
 * @module
 */
import { Hono } from "hono";
import { seriesParamsSchema, seriesQuerySchema } from "@vigil/shared/schemas/web_api";
import type { AppDeps } from "../deps.ts";
import { parseOrThrow, query } from "@vigil/shared/http/validate";
import { readSeries } from "../series.ts";

/** Routes under `/api/series`. */
export function seriesRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/:type/:entity", query(seriesQuerySchema), async (c) => {
    const params = parseOrThrow(seriesParamsSchema, c.req.param(), "path");
    const q = c.req.valid("query");
    const series = await readSeries(deps.redis, {
      keys: deps.keys,
      type: params.type,
      entity: params.entity,
      measure: q.measure,
      fromMs: q.from,
      toMs: q.to,
      limit: q.limit,
    });
    return c.json({ type: params.type, entity: params.entity, series });
  });
  return app;
}
