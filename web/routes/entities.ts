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
    // Every type's series, so `types` still lists them all when the page is narrowed to one
    // (it offered no way back to the others): the other types' are read one point deep, only to
    // know they exist. `facts.types` is every type's too.
    const [facts, page, perType] = await Promise.all([
      entityFacts(deps.sql, entity, q.type),
      listAnomalies(deps.sql, {
        entity,
        ...(q.type ? { type: [q.type] } : {}),
        limit: q.limit,
      }),
      Promise.all(EVENT_TYPES.map(async (type) => {
        const series = await readSeries(deps.redis, {
          keys: deps.keys,
          type,
          entity,
          limit: !q.type || type === q.type ? q.points : 1,
        });
        return series.filter((s) => s.points.length > 0).map((s) => ({ type, ...s }));
      })),
    ]);
    const all = perType.flat();
    const series = q.type ? all.filter((s) => s.type === q.type) : all;
    const seen = new Set([...facts.types, ...all.map((s) => s.type)]);
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
