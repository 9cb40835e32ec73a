/**
 * The System panel's reads:
 *
 * - `GET /api/system/rules`: the detector's rules in force and their version,
 *   proxied to `GET /api/rules` at `DETECTOR_URL` (503 when unset, 502 when
 *   the detector cannot be reached);
 * - `GET /api/system/retention`: the latest retention run recorded in
 *   `retention_runs` by the notifier's retention runner, and when the next
 *   is due as that runner plans it; `detector_api` says whether DETECTOR_URL
 *   is set (the page asks for the rules only then).
 *
 * @module
 */
import { Hono } from "hono";
import { nextRetentionDelayMs } from "@vigil/shared/retention/policy";
import { latestRetentionRun, type RetentionRunRecord } from "@vigil/shared/retention/runs";
import type { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { callService } from "../service_proxy.ts";
import { noQuery } from "@vigil/shared/http/validate";
import type { retentionStatusSchema } from "../api_responses.ts";

/**
 * When the instance that recorded `run` runs retention next, as its loop plans it: the
 * interval after a run that finished every table, a catch-up pause after one that left
 * tables unfinished, a minute after one that failed for some tables. Null when unknown: no
 * interval recorded, or the run was cut by shutdown (the next is a minute after the notifier
 * starts again).
 */
function nextRunAt(run: RetentionRunRecord | null): string | null {
  if (!run?.interval_ms || run.outcome === "interrupted") return null;
  const finished = Date.parse(run.finished_at);
  const tookMs = finished - Date.parse(run.started_at);
  const delay = nextRetentionDelayMs(
    { unfinished: run.unfinished, tookMs, failed: run.failed },
    run.interval_ms,
  );
  return new Date(finished + delay).toISOString();
}

/** Routes under `/api/system`. */
export function systemRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/rules", noQuery, async (c) => c.json(await callService(deps, "rules")));
  app.get("/retention", noQuery, async (c) => {
    const run = await latestRetentionRun(deps.sql);
    const body: z.infer<typeof retentionStatusSchema> = {
      last_run: run,
      next_run_at: nextRunAt(run),
      detector_api: Boolean(deps.config.DETECTOR_URL),
    };
    return c.json(body);
  });
  return app;
}
