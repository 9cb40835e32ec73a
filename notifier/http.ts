/**
 * The notifier's HTTP API (served beside /health and /metrics):
 *
 * | method | path | what |
 * |---|---|---|
 * | GET | `/api/silences?active=true` | list silences |
 * | POST | `/api/silences` | create (body: shared/schemas/silence.ts `silenceInputSchema`) |
 * | DELETE | `/api/silences/:id` | expire now |
 * | GET | `/api/notifications?alert_id=&digest_id=&status=&limit=` | "was I told?" |
 *
 * Mutating endpoints require `Authorization: Bearer $VIGIL_API_TOKEN` when a
 * token is configured.
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "@vigil/shared/log";
import {
  createSilence,
  expireSilence,
  listSilences,
  type SilenceInput,
} from "@vigil/shared/silences";
import { tokenMatches } from "@vigil/shared/auth";
import type { NotifierStore } from "./store.ts";

/** Build the API handler; returns undefined for paths it does not serve. */
export function createApiHandler(deps: {
  sql: postgres.Sql;
  store: NotifierStore;
  log: Logger;
  apiToken?: string;
  onSilencesChanged?: () => void;
}): (req: Request) => Promise<Response | undefined> {
  const authorized = (req: Request): boolean => {
    if (!deps.apiToken) return true;
    const h = req.headers.get("authorization") ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(h);
    return !!m && tokenMatches(m[1]!.trim(), deps.apiToken);
  };
  const unauthorized = () =>
    Response.json({ error: "missing or wrong bearer token" }, {
      status: 401,
      headers: { "www-authenticate": "Bearer" },
    });

  return async (req) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "");
    try {
      if (path === "/api/silences") {
        if (req.method === "GET") {
          const a = url.searchParams.get("active");
          const limit = Number(url.searchParams.get("limit") ?? 500);
          const silences = await listSilences(deps.sql, {
            ...(a === "true" ? { active: true } : a === "false" ? { active: false } : {}),
            ...(Number.isFinite(limit) ? { limit } : {}),
          });
          return Response.json({ silences });
        }
        if (req.method === "POST") {
          if (!authorized(req)) return unauthorized();
          let body: unknown;
          try {
            body = await req.json();
          } catch {
            return Response.json({ error: "Cannot create silence: body is not JSON" }, {
              status: 400,
            });
          }
          try {
            // createSilence validates the body; its RangeError is the 400 below.
            const silence = await createSilence(deps.sql, body as SilenceInput);
            deps.onSilencesChanged?.();
            deps.log.info("silence created", {
              silence_id: silence.id,
              author: silence.author,
              matchers: silence.matchers,
            });
            return Response.json(silence, { status: 201 });
          } catch (error) {
            if (error instanceof RangeError) {
              return Response.json({ error: error.message }, { status: 400 });
            }
            throw error;
          }
        }
        return Response.json({ error: "method not allowed" }, { status: 405 });
      }
      const m = /^\/api\/silences\/([^/]+)(\/expire)?$/.exec(path);
      if (m && (req.method === "DELETE" || (req.method === "POST" && m[2]))) {
        if (!authorized(req)) return unauthorized();
        const silence = await expireSilence(deps.sql, decodeURIComponent(m[1]!));
        if (!silence) return Response.json({ error: "no such silence" }, { status: 404 });
        deps.onSilencesChanged?.();
        deps.log.info("silence expired", { silence_id: silence.id });
        return Response.json(silence);
      }
      if (path === "/api/notifications" && req.method === "GET") {
        const q = url.searchParams;
        const limit = Number(q.get("limit") ?? 100);
        const notifications = await deps.store.listNotifications({
          ...(q.get("alert_id") ? { alertId: q.get("alert_id")! } : {}),
          ...(q.get("digest_id") ? { digestId: q.get("digest_id")! } : {}),
          ...(q.get("status") ? { status: q.get("status")! } : {}),
          ...(Number.isFinite(limit) ? { limit } : {}),
        });
        return Response.json({ notifications });
      }
      return undefined;
    } catch (error) {
      deps.log.error("api request failed", { path, error });
      return Response.json({ error: "internal error" }, { status: 500 });
    }
  };
}
