/**
 * Every route of the web service, documented: the source of the OpenAPI
 * document (`GET /api/openapi.json`, rendered at `/api/docs`). The schemas
 * are the very ones the routes validate with; web/integration/openapi_test.ts
 * checks that this list and the routes registered on the app are the same.
 *
 * @module
 */
import { z } from "zod";
import { silenceInputSchema } from "@vigil/shared/schemas/silence";
import {
  testNotificationResultSchema,
  volumePreviewSchema,
} from "@vigil/shared/schemas/notifier_api";
import {
  ackInputSchema,
  anomalyIdSchema,
  anomalyListQuerySchema,
  entityParamsSchema,
  entityQuerySchema,
  notificationSummaryQuerySchema,
  seriesParamsSchema,
  seriesQuerySchema,
  silenceIdSchema,
  silenceListQuerySchema,
  statsQuerySchema,
} from "@vigil/shared/schemas/web_api";
import {
  ackConflictSchema,
  ackResponseSchema,
  anomalyDetailSchema,
  anomalyPageSchema,
  detectorRulesSchema,
  entityResponseSchema,
  errorResponseSchema,
  healthResponseSchema,
  notificationSummarySchema,
  retentionStatusSchema,
  seriesResponseSchema,
  silenceListSchema,
  silenceResponseSchema,
  statsResponseSchema,
} from "./api_responses.ts";
import { openApiDocument, type ResponseDoc, type RouteDoc } from "./openapi.ts";

const err = (description: string): ResponseDoc => ({ description, schema: errorResponseSchema });
const BAD = { 400: err("Bad query, path or body: the message names the field") };
const OUT_OF_REACH = "PostgreSQL or Redis is out of reach (Retry-After: 5; also a read still " +
  "waiting after 10 s): retry later";
const READ = {
  ...BAD,
  401: err("Reads need the token (WEB_PUBLIC_READ=false)"),
  503: err(OUT_OF_REACH),
};
const TOKEN = {
  ...BAD,
  401: err('Missing or wrong bearer token (WWW-Authenticate: Bearer realm="vigil")'),
  503: err(`VIGIL_API_TOKEN is unset: mutations are off; or ${OUT_OF_REACH}`),
};
/** Path params `{ id }` of a route on one stored thing. */
const idParams = (id: z.ZodType) => z.object({ id });
/** Answers of a route on one stored thing: `ok`, the access errors, and 404. */
const oneThing = (ok: ResponseDoc, access: Record<number, ResponseDoc>, what: string) => ({
  200: ok,
  ...access,
  404: err(`No ${what} has this id`),
});
const html = (description: string): ResponseDoc => ({ description, contentType: "text/html" });
const page = (path: string, summary: string, params?: z.ZodType): RouteDoc => ({
  method: "GET",
  path,
  tag: "page",
  summary,
  access: "open",
  ...(params ? { params } : {}),
  responses: { 200: html("The page (index.html); the script opens the view"), ...BAD },
});

/** The documented routes, in the order the document lists them. */
export const WEB_ROUTES: readonly RouteDoc[] = [
  {
    method: "GET",
    path: "/api/anomalies",
    tag: "anomalies",
    summary: "Filtered, keyset-paged list of anomalies, newest first",
    access: "read",
    query: anomalyListQuerySchema,
    responses: { 200: { description: "One page", schema: anomalyPageSchema }, ...READ },
  },
  {
    method: "GET",
    path: "/api/anomalies/:id",
    tag: "anomalies",
    summary: "One anomaly with its evidence and the silence that covers it",
    access: "read",
    params: idParams(anomalyIdSchema),
    responses: oneThing(
      { description: "The anomaly", schema: anomalyDetailSchema },
      READ,
      "anomaly",
    ),
  },
  {
    method: "POST",
    path: "/api/anomalies/:id/ack",
    tag: "anomalies",
    summary: "Acknowledge an anomaly (who, now, why); the first acknowledgement stands",
    access: "token",
    params: idParams(anomalyIdSchema),
    body: ackInputSchema,
    responses: {
      ...oneThing(
        { description: "The updated anomaly", schema: ackResponseSchema },
        TOKEN,
        "anomaly",
      ),
      409: {
        description: "Acknowledged already: nothing changed; who, when and why in `anomaly`",
        schema: ackConflictSchema,
      },
    },
  },
  {
    method: "GET",
    path: "/api/stats",
    tag: "anomalies",
    summary: "Counts per minute or hour, type and severity (default: the last hour)",
    description: "A range of at most 10,080 buckets' length per request.",
    access: "read",
    query: statsQuerySchema,
    responses: { 200: { description: "Counts", schema: statsResponseSchema }, ...READ },
  },
  {
    method: "GET",
    path: "/api/series/:type/:entity",
    tag: "entities",
    summary: "Cached values and scores of a series (the detector's vigil:scores:* cache)",
    description: "Without `measure`, every measure of the entity (up to 20).",
    access: "read",
    params: seriesParamsSchema,
    query: seriesQuerySchema,
    responses: { 200: { description: "Series", schema: seriesResponseSchema }, ...READ },
  },
  {
    method: "GET",
    path: "/api/entities/:entity",
    tag: "entities",
    summary: "A service, user or status: state, recent anomalies, cached series with bands",
    access: "read",
    params: entityParamsSchema,
    query: entityQuerySchema,
    responses: { 200: { description: "The entity", schema: entityResponseSchema }, ...READ },
  },
  {
    method: "GET",
    path: "/api/notifications/summary",
    tag: "notifications",
    summary: "What the notifier sent or planned in the last window, per route and channel",
    description: "Read from the notifier's tables (notifier_digests, notifications, " +
      "notifier_alerts): real figures, not a simulation.",
    access: "read",
    query: notificationSummaryQuerySchema,
    responses: { 200: { description: "Summary", schema: notificationSummarySchema }, ...READ },
  },
  {
    method: "GET",
    path: "/api/notifications/preview",
    tag: "notifications",
    summary: "How many notifications the notifier's current routes would have sent in the window",
    description: "The notifier (at NOTIFIER_URL) replays the alerts it took in during the window " +
      "through the routes in force, with its own grouping code, on a simulated clock.",
    access: "read",
    query: notificationSummaryQuerySchema,
    responses: {
      200: { description: "The preview", schema: volumePreviewSchema },
      ...READ,
      502: err("The notifier cannot be reached, or refused"),
      503: err("NOTIFIER_URL is unset, or the notifier is busy (its Retry-After passed on)"),
    },
  },
  {
    method: "POST",
    path: "/api/notifications/test",
    tag: "notifications",
    summary: "Send a test notification through every channel the notifier has",
    description: "Proxied to the notifier at NOTIFIER_URL (its POST /api/test-notification, " +
      "with the same VIGIL_API_TOKEN). 200 with each channel's result, failures included.",
    access: "token",
    responses: {
      200: { description: "Each channel's result", schema: testNotificationResultSchema },
      ...TOKEN,
      502: err("The notifier cannot be reached, or refused (e.g. a different token)"),
      503: err("VIGIL_API_TOKEN or NOTIFIER_URL is unset"),
    },
  },
  {
    method: "GET",
    path: "/api/system/rules",
    tag: "system",
    summary: "The detector's rules in force, their version and the last rejected file",
    description: "Proxied to the detector at DETECTOR_URL (its GET /api/rules).",
    access: "read",
    responses: {
      200: { description: "The rules in force", schema: detectorRulesSchema },
      ...READ,
      502: err("The detector cannot be reached, or answered something else"),
      503: err("DETECTOR_URL is unset"),
    },
  },
  {
    method: "GET",
    path: "/api/system/retention",
    tag: "system",
    summary: "The last retention run: rows deleted per table, configured ages, next run",
    description: "Read from retention_runs, written by the notifier's retention runner.",
    access: "read",
    responses: {
      200: { description: "The last run", schema: retentionStatusSchema },
      ...READ,
    },
  },
  {
    method: "GET",
    path: "/api/live",
    tag: "live",
    summary:
      "Server-sent events: hello, alert (each published alert), ack (an anomaly acknowledged on any web instance), stats (heartbeat; ping when the stats cannot be read), bye",
    access: "read",
    responses: {
      200: { description: "An event stream", contentType: "text/event-stream" },
      400: err("It takes no query: any name is refused"),
      401: READ[401],
      503: err(
        "Too many live clients (WEB_MAX_SSE_CLIENTS), or the live subscription (Redis) is cut or not made yet",
      ),
    },
  },
  {
    method: "GET",
    path: "/api/silences",
    tag: "silences",
    summary: "Silences, newest first",
    access: "read",
    query: silenceListQuerySchema,
    responses: { 200: { description: "Silences", schema: silenceListSchema }, ...READ },
  },
  {
    method: "POST",
    path: "/api/silences",
    tag: "silences",
    summary: "Create a silence (matchers, and a duration or an end)",
    access: "token",
    body: silenceInputSchema,
    responses: {
      201: { description: "The silence", schema: silenceResponseSchema },
      ...TOKEN,
    },
  },
  {
    method: "DELETE",
    path: "/api/silences/:id",
    tag: "silences",
    summary: "Expire a silence now (idempotent)",
    access: "token",
    params: idParams(silenceIdSchema),
    responses: oneThing(
      { description: "The silence", schema: silenceResponseSchema },
      TOKEN,
      "silence",
    ),
  },
  ...["/health", "/healthz", "/api/health"].map((path): RouteDoc => ({
    method: "GET",
    path,
    tag: "ops",
    summary: "Health: redis, postgres and the live subscription, each within 2 s",
    access: "open",
    responses: {
      200: { description: "Healthy", schema: healthResponseSchema },
      503: { description: "A check failed", schema: healthResponseSchema },
    },
  })),
  {
    method: "GET",
    path: "/metrics",
    tag: "ops",
    summary: "Prometheus metrics",
    access: "open",
    responses: { 200: { description: "Text exposition", contentType: "text/plain" } },
  },
  {
    method: "GET",
    path: "/api/openapi.json",
    tag: "docs",
    summary: "This document (OpenAPI 3.1)",
    access: "open",
    responses: { 200: { description: "The document", contentType: "application/json" } },
  },
  page("/api/docs", "This document, readable (rendered by the page, offline)"),
  page("/", "The live view"),
  page(
    "/alerts/:id",
    "The live view opened on an anomaly (digest links)",
    idParams(anomalyIdSchema),
  ),
  page("/entities/:entity", "The entity page", entityParamsSchema),
  {
    method: "GET",
    path: "/assets/:name",
    tag: "page",
    summary: "A file of the page (web/static)",
    access: "open",
    responses: { 200: { description: "The file (ETag)" }, 404: err("No such file") },
  },
  {
    method: "GET",
    path: "/favicon.ico",
    tag: "page",
    summary: "The page's icon (SVG), for browsers that ask for it by this name",
    access: "open",
    responses: { 200: { description: "The icon (ETag)" } },
  },
  {
    method: "GET",
    path: "/vendor/:name",
    tag: "page",
    summary: "preact, preact/hooks and htm from node_modules",
    access: "open",
    responses: { 200: { description: "The module (ETag)" }, 404: err("No such file") },
  },
];

/** The web service's OpenAPI document. */
export function webOpenApiDocument(): Record<string, unknown> {
  return openApiDocument(WEB_ROUTES, {
    title: "Vigil web API",
    version: "1",
    description: "Anomalies, live alerts, entities, silences and notification figures of Vigil. " +
      'Errors are JSON {"error": "…"}; bodies over 64 KiB answer 413.',
  });
}
