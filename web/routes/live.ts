/**
 * `GET /api/live`: server-sent events. Events: `hello` (on connect), `alert`
 * (each alert published on the live channel, JSON as shared/schemas/alert.ts),
 * `ack` (an anomaly acknowledged on any web instance, JSON as `ackEventSchema`
 * of api_responses.ts) and `stats` (heartbeat: last hour's counts by severity). Every client is
 * served by the app's single {@link SseHub} subscription.
 *
 * @module
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppDeps } from "../deps.ts";
import { httpError } from "@vigil/shared/http/app";
import { serveLiveClient } from "../sse_hub.ts";
import { noQuery } from "@vigil/shared/http/validate";

/** Routes under `/api/live`. */
export function liveRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  const now = deps.now ?? Date.now;
  app.get("/", noQuery, (c) => {
    // Refuse before the stream starts, so a full hub answers a plain 503.
    if (deps.hub.size >= deps.hub.capacity) {
      throw httpError(503, "Cannot open live stream: too many clients, retry later");
    }
    // No alert can arrive while the Redis subscription is cut: a stream would say "Live".
    if (deps.hub.cut) {
      throw httpError(503, "Cannot open live stream: live alerts are cut (Redis), retry later");
    }
    c.header("X-Accel-Buffering", "no");
    // HEAD is served by this handler and its body dropped unread (Hono): a stream started for
    // it never ends, and held a client slot (WEB_MAX_SSE_CLIENTS) until its queue overflowed.
    if (c.req.method === "HEAD") {
      return c.body(null, 200, {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
      });
    }
    return streamSSE(c, async (stream) => {
      await stream.writeSSE({
        event: "hello",
        data: JSON.stringify({ ts: new Date(now()).toISOString() }),
        retry: 3000,
      });
      deps.metrics.sseMessages.inc({ event: "hello" });
      try {
        await serveLiveClient(deps.hub, stream, { metrics: deps.metrics });
      } catch (error) {
        if (error instanceof RangeError) {
          await stream.writeSSE({ event: "bye", data: JSON.stringify({ reason: error.message }) });
          deps.metrics.sseMessages.inc({ event: "bye" });
          return;
        }
        throw error;
      }
    }, (error) => {
      deps.log.warn("live stream failed", { error });
      return Promise.resolve();
    });
  });
  return app;
}
