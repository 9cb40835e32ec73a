/**
 * `GET /api/entities/:entity`: one service, user or status: its current
 * state, its recent anomalies and the cached score series of each of its
 * measures (with the expected band when the detector cached it).
 *
 * @module
 */
import { Hono } from "hono";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { entityParamsSchema, entityQuerySchema } from "@vigil/shared/schemas/web_api";
import { parseOrThrow, query } from "@vigil/shared/http/validate";
import type { AppDeps } from "../deps.ts";
import { entityState } from "../entity.ts";
import { readSeries } from "../series.ts";
import { entityFacts, listAnomalies } from "../store.ts";

/** Routes under `/api/entities`. */
export function entityRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/:entity", query(entityQuerySchema), async (c) => {
    const { entity } = parseOrThrow(entityParamsSchema, c.req.param(), "path");
    const q = c.req.valid("query");
    const types = q.type ? [q.type] : [...EVENT_TYPES];
    const [facts, page, perType] = await Promise.all([
      entityFacts(deps.sql, entity, q.type),
      listAnomalies(deps.sql, {
        entity,
        ...(q.type ? { type: [q.type] } : {}),
        limit: q.limit,
      }),
      Promise.all(types.map(async (type) => {
        const series = await readSeries(deps.redis, {
          keys: deps.keys,
          type,
          entity,
          limit: q.points,
        });
        return series.filter((s) => s.points.length > 0).map((s) => ({ type, ...s }));
      })),
    ]);
    const series = perType.flat();
    const seen = new Set([...facts.types, ...series.map((s) => s.type)]);
    return c.json({
      entity,
      type: q.type ?? null,
      types: EVENT_TYPES.filter((t) => seen.has(t)),
      state: entityState(facts, series),
      anomalies: page.items,
      series,
    });
  });
  return app;
}
