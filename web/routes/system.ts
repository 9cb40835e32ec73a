/**
 * The System panel's reads:
 *
 * - `GET /api/system/rules`: the detector's rules in force and their version,
 *   proxied to `GET /api/rules` at `DETECTOR_URL` (503 when unset, 502 when
 *   the detector cannot be reached);
 * - `GET /api/system/retention`: the latest retention run recorded in
 *   `retention_runs` by the notifier's retention runner, and when the next
 *   is due; `detector_api` says whether DETECTOR_URL is set (the page asks
 *   for the rules only then).
 *
 * @module
 */
import { Hono } from "hono";
import { latestRetentionRun } from "@vigil/shared/retention/runs";
import type { z } from "zod";
import type { AppDeps } from "../deps.ts";
import { callService } from "../service_proxy.ts";
import type { retentionStatusSchema } from "../system_schemas.ts";

/** Routes under `/api/system`. */
export function systemRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/rules", async (c) => c.json(await callService(deps, "rules")));
  app.get("/retention", async (c) => {
    const run = await latestRetentionRun(deps.sql);
    const body: z.infer<typeof retentionStatusSchema> = {
      last_run: run,
      next_run_at: run?.interval_ms
        ? new Date(Date.parse(run.finished_at) + run.interval_ms).toISOString()
        : null,
      detector_api: Boolean(deps.config.DETECTOR_URL),
    };
    return c.json(body);
  });
  return app;
}
