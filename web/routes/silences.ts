/**
 * Silences: `GET /api/silences`, `POST /api/silences`,
 * `DELETE /api/silences/:id` (expire now). Stored through shared/silences.ts.
 *
 * @module
 */
import { Hono } from "hono";
import { silenceInputSchema } from "@vigil/shared/schemas/silence";
import { silenceIdSchema, silenceListQuerySchema } from "@vigil/shared/schemas/web_api";
import { createSilence, expireSilence, listSilences } from "@vigil/shared/silences";
import type { AppDeps } from "../deps.ts";
import { answerRangeError, httpError } from "@vigil/shared/http/app";
import { jsonBody, noQuery, parseOrThrow, query } from "@vigil/shared/http/validate";

/** Routes under `/api/silences`. */
export function silenceRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;

  app.get("/", query(silenceListQuerySchema), async (c) => {
    const q = c.req.valid("query");
    const options = q.active === undefined
      ? { limit: q.limit }
      : { active: q.active, limit: q.limit };
    return c.json({ items: await listSilences(deps.sql, options) });
  });

  app.post("/", noQuery, jsonBody(silenceInputSchema), async (c) => {
    const input = c.req.valid("json");
    // A silence that cannot be is a 400.
    const created = createSilence(deps.sql, input, { nowMs: now() });
    const silence = await answerRangeError(created, { status: 400 });
    deps.log.info("silence created", { id: silence.id, author: silence.author });
    return c.json({ silence }, 201);
  });

  app.delete("/:id", noQuery, async (c) => {
    const id = parseOrThrow(silenceIdSchema, c.req.param("id"), "id");
    const silence = await expireSilence(deps.sql, id);
    if (!silence) throw httpError(404, `Cannot find silence ${JSON.stringify(id)}`);
    deps.log.info("silence expired", { id });
    return c.json({ silence });
  });

  return app;
}
