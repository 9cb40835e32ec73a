/**
 * `GET /api/rules`: the rules in force and their version.
 *
 * ```json
 * { "version": { "hash": "<sha256 hex>", "loaded_at": "…", "source": "detector/rules.json" },
 *   "last_rejected": null | { "at": "…", "trigger": "SIGHUP", "reason": "Cannot load …" },
 *   "rules": { "cooldown": 300000, "logs": { … }, … } }
 * ```
 *
 * Durations are in milliseconds (the resolved form). Read-only and open, like
 * /health.
 *
 * @module
 */
import type { Hono } from "hono";
import { noQuery } from "@vigil/shared/http/validate";
import { createBaseApp, SMALL_BODY_LIMIT_BYTES } from "@vigil/shared/http/app";
import type { Logger } from "@vigil/shared/log";
import type { RulesReloader } from "./rules_reload.ts";

/** Path of the rules endpoint. */
export const RULES_PATH = "/api/rules";

/** The route on a guarded app; mount it with `app.route("/", …)`. */
export function createRulesApp(
  deps: { rules: Pick<RulesReloader, "current" | "version" | "lastRejection">; log: Logger },
): Hono {
  const app = createBaseApp({ log: deps.log, bodyLimitBytes: SMALL_BODY_LIMIT_BYTES });
  app.get(RULES_PATH, noQuery, (c) =>
    c.json({
      version: deps.rules.version(),
      last_rejected: deps.rules.lastRejection(),
      rules: deps.rules.current(),
    }));
  return app;
}
