/**
 * `GET /api/anomalies`, `GET /api/anomalies/:id` (with evidence) and
 * `POST /api/anomalies/:id/ack` (told to the live views of every web
 * instance on `vigil:acks:live`).
 *
 * @module
 */
import { Hono } from "hono";
import {
  ackInputSchema,
  anomalyIdParamsSchema,
  anomalyListQuerySchema,
} from "@vigil/shared/schemas/web_api";
import { activeSilences, findSilence } from "@vigil/shared/silences";
import type { AppDeps } from "../deps.ts";
import { ackEventSchema } from "../api_responses.ts";
import { resolveEvidence } from "../evidence.ts";
import { answerRangeError, httpError } from "@vigil/shared/http/app";
import { jsonBody, noQuery, parseOrThrow, query } from "@vigil/shared/http/validate";
import { acknowledgeAnomaly, getAnomaly, listAnomalies, notifierFate } from "../store.ts";

/** Routes under `/api/anomalies`. */
export function anomalyRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;

  app.get("/", query(anomalyListQuerySchema), async (c) => {
    // A cursor not from a previous page is a 400.
    const page = listAnomalies(deps.sql, c.req.valid("query"));
    return c.json(await answerRangeError(page, { status: 400 }));
  });

  app.get("/:id", noQuery, async (c) => {
    const { id } = parseOrThrow(anomalyIdParamsSchema, c.req.param(), "path");
    const anomaly = await getAnomaly(deps.sql, id);
    if (!anomaly) throw httpError(404, `Cannot find anomaly ${JSON.stringify(id)}`);
    const [evidence, silences, quiet] = await Promise.all([
      resolveEvidence(deps.redis, anomaly.evidence, {
        keys: deps.keys,
        archivePrefix: deps.config.ARCHIVE_PREFIX,
        bucket: deps.config.S3_BUCKET,
        fallbackTimeMs: Date.parse(anomaly.event_time),
        archive: deps.archive,
      }),
      // Every active silence, as the notifier reads them (a list page of 500 missed older ones).
      activeSilences(deps.sql, now()),
      notifierFate(deps.sql, id),
    ]);
    const silence = findSilence(silences, anomaly, now());
    return c.json({ anomaly, evidence, silenced_by: silence ?? null, notifier: quiet });
  });

  app.post("/:id/ack", noQuery, jsonBody(ackInputSchema), async (c) => {
    const { id } = parseOrThrow(anomalyIdParamsSchema, c.req.param(), "path");
    const ack = c.req.valid("json");
    const done = await acknowledgeAnomaly(deps.sql, id, ack);
    if (!done) throw httpError(404, `Cannot find anomaly ${JSON.stringify(id)}`);
    const { anomaly } = done;
    if (!done.acknowledged) {
      // The first acknowledgement stands; the answer says whose it is (the page shows it).
      const error = `Cannot acknowledge anomaly ${JSON.stringify(id)}: already acknowledged by ${
        JSON.stringify(anomaly.acknowledged_by)
      } at ${anomaly.acknowledged_at}`;
      return c.json({ error, anomaly }, 409);
    }
    deps.log.info("anomaly acknowledged", { id, by: ack.by });
    // Every web instance's live views apply it at once (they read it from the list only on its
    // next read before). Not awaited: it is stored, and Redis out of reach must not hold the answer.
    const event = ackEventSchema.parse({
      id,
      entity: anomaly.entity,
      acknowledged_at: anomaly.acknowledged_at,
      acknowledged_by: anomaly.acknowledged_by,
      ack_comment: anomaly.ack_comment,
    });
    deps.redis.publish(deps.keys.acksChannel(), JSON.stringify(event)).catch((error) =>
      deps.log.warn("acknowledgement not told to live views", { id, error })
    );
    return c.json({ anomaly });
  });

  return app;
}
