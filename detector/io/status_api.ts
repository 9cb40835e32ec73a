/**
 * `GET /api/alerts/status`: per transaction status, the `status_zscore`
 * alerts firing now (open rows in PostgreSQL, from the rule or dispatched
 * through the evaluate endpoint) and the status's last z-score (the newest
 * completed minute in the recent-scores cache, `vigil:scores:transactions:<status>:count_z`).
 * Answers the same on every detector instance (it reads only the shared
 * stores).
 *
 * ```json
 * { "generated_at": "…",
 *   "statuses": {
 *     "failed": { "severity": "CRITICAL",
 *                 "firing": [{ "id": "…", "severity": "CRITICAL", "z": 5, "count": 12,
 *                              "minute": "…", "detected_at": "…", "title": "…", "source": "rule" }],
 *                 "last_z": { "minute": "…", "z": 4.2, "count": 11 } },
 *     "approved": { "severity": null, "firing": [], "last_z": null }, … } }
 * ```
 *
 * @module
 */
import type { Hono } from "hono";
import { noQuery } from "@vigil/shared/http/validate";
import type { Redis } from "@vigil/shared/redis";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import { createBaseApp, SMALL_BODY_LIMIT_BYTES } from "@vigil/shared/http/app";
import type { Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import { parseScoreMember } from "@vigil/shared/score_member";
import { TRANSACTION_STATUSES } from "@vigil/shared/schemas/event";
import type { AnomalyStore } from "./store.ts";

/** Path of the status endpoint. */
export const STATUS_PATH = "/api/alerts/status";

/** Most firing alerts listed per status. */
const LIMIT = 100;

/** The last z of a status: the newest member of its `count_z` score cache. */
function lastZ(member: string): { minute: string; z: number; count: number } | null {
  const p = parseScoreMember(member, 0);
  return p && p.score !== null
    ? { minute: new Date(p.ts).toISOString(), z: p.score, count: p.value }
    : null;
}

/** The route on a guarded app; mount it with `app.route("/", …)`. */
export function createStatusApp(deps: {
  store: Pick<AnomalyStore, "openByEntity">;
  redis: Pick<Redis, "pipeline" | "isCluster">;
  keys: Keys;
  log: Logger;
  now?: () => number;
}): Hono {
  const now = deps.now ?? Date.now;
  const app = createBaseApp({ log: deps.log, bodyLimitBytes: SMALL_BODY_LIMIT_BYTES });
  app.get(STATUS_PATH, noQuery, async (c) => {
    // One pipeline per slot: on a cluster the score keys live on different masters.
    // Per status: a status with many open rows must not push the others' out of one shared
    // limit, and the highest severity also counts the rows past the listed LIMIT.
    const [open, replies] = await Promise.all([
      deps.store.openByEntity("status_zscore", TRANSACTION_STATUSES, LIMIT),
      pipelineBySlot(
        deps.redis,
        TRANSACTION_STATUSES.map((s) => {
          const key = deps.keys.scores("transactions", s, "count_z");
          return { key, add: (p) => p.zrevrange(key, 0, 0) };
        }),
      ),
    ]);
    const statuses: Record<string, unknown> = {};
    TRANSACTION_STATUSES.forEach((status, i) => {
      const [error, members] = replies[i] ?? [];
      const first = !error && Array.isArray(members) ? members[0] : undefined;
      const { rows, critical } = open.get(status) ?? { rows: [], critical: false };
      const firing = rows.map((r) => {
        const d = (r.details ?? {}) as Record<string, unknown>;
        return {
          id: r.id,
          severity: r.severity,
          z: r.score,
          count: typeof d.count === "number" ? d.count : null,
          minute: typeof d.minute === "string" ? d.minute : null,
          detected_at: r.detected_at.toISOString(),
          event_time: r.event_time.toISOString(),
          title: r.title,
          source: d.source === "api" ? "api" : "rule",
        };
      });
      statuses[status] = {
        severity: critical || firing.some((f) => f.severity === "CRITICAL")
          ? "CRITICAL"
          : firing[0]?.severity ?? null,
        firing,
        last_z: typeof first === "string" ? lastZ(first) : null,
      };
    });
    return c.json({ generated_at: new Date(now()).toISOString(), statuses });
  });
  return app;
}
