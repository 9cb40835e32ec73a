/**
 * Calls from the web to another Vigil service's HTTP API: the notifier at
 * `NOTIFIER_URL` (notification preview and test) and the detector at
 * `DETECTOR_URL` (the rules in force). One place for the endpoints called,
 * the 503 when the URL is unset, the 502 when the service cannot be reached,
 * refuses or answers something unexpected (its 503 with `Retry-After`, a
 * passing state, stays a 503 with it), and the validation of its answer.
 *
 * @module
 */
import type { z } from "zod";
import { httpError } from "@vigil/shared/http/app";
import { fetchErrorText } from "@vigil/shared/http/fetch_error";
import {
  testNotificationResultSchema,
  volumePreviewSchema,
} from "@vigil/shared/schemas/notifier_api";
import type { AppDeps } from "./deps.ts";
import { detectorRulesSchema } from "./api_responses.ts";

/** The services the web calls, with their URL variable and example address. */
const SERVICES = {
  notifier: { env: "NOTIFIER_URL", example: "http://127.0.0.1:9104" },
  detector: { env: "DETECTOR_URL", example: "http://127.0.0.1:9103" },
} as const;

/**
 * How long a service may take: reads are quick; the test notification sends
 * through every channel at once, each bounded by the notifier's SEND_TIMEOUT
 * (10 s by default). A hung service answers 502 after this, not never.
 */
const SERVICE_TIMEOUT_MS = { GET: 5_000, POST: 20_000 } as const;

/** The endpoints the web calls; `what` says what a call does, for messages. */
const CALLS = {
  /** The detector's rules in force. */
  rules: {
    service: "detector",
    what: "read the rules in force",
    path: "/api/rules",
    method: "GET",
    schema: detectorRulesSchema,
  },
  /** A window's alerts replayed through the notifier's routes (query: `window`). */
  notificationPreview: {
    service: "notifier",
    what: "preview notifications",
    path: "/api/notifications/preview",
    method: "GET",
    schema: volumePreviewSchema,
  },
  /** A test digest sent through every channel. */
  testNotification: {
    service: "notifier",
    what: "send a test notification",
    path: "/api/test-notification",
    method: "POST",
    schema: testNotificationResultSchema,
  },
} as const satisfies Record<string, {
  service: keyof typeof SERVICES;
  what: string;
  path: string;
  method: keyof typeof SERVICE_TIMEOUT_MS;
  schema: z.ZodType;
}>;

/** An endpoint the web calls. */
export type ServiceCallName = keyof typeof CALLS;

/** The validated answer of endpoint `N`. */
export type ServiceAnswer<N extends ServiceCallName> = z.infer<(typeof CALLS)[N]["schema"]>;

/**
 * Call a service's endpoint at its URL variable (with VIGIL_API_TOKEN as
 * bearer, `query` as the query string) and validate its answer.
 *
 * @throws {HTTPException} 503 when the URL is unset, or the service answered
 * 503 with `Retry-After` (passed on); 502 when it cannot be reached, refuses
 * or answers something else
 */
export async function callService<N extends ServiceCallName>(
  deps: Pick<AppDeps, "config">,
  name: N,
  query: Record<string, string> = {},
): Promise<ServiceAnswer<N>> {
  const call = CALLS[name];
  const { env, example } = SERVICES[call.service];
  const base = deps.config[env];
  if (!base) {
    throw httpError(
      503,
      `Cannot ${call.what}: set ${env} to the ${call.service}'s address (e.g. ${example})`,
    );
  }
  let res: Response;
  try {
    // Appended to the URL's own path (a service behind a reverse proxy at /vigil/notifier/): an
    // absolute path given to new URL() replaced it.
    const url = new URL(base.replace(/\/+$/, "") + call.path);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    res = await fetch(url, {
      method: call.method,
      headers: { authorization: `Bearer ${deps.config.VIGIL_API_TOKEN ?? ""}` },
      signal: AbortSignal.timeout(SERVICE_TIMEOUT_MS[call.method]),
    });
  } catch (error) {
    throw httpError(
      502,
      `Cannot reach the ${call.service} at ${env}: ${fetchErrorText(error)}`.slice(0, 300),
    );
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch { /* not JSON: reported below */ }
  if (!res.ok) {
    const said = (body as { error?: unknown } | null)?.error;
    const hint = res.status === 401
      ? ` (set the same VIGIL_API_TOKEN on the web and the ${call.service})`
      : "";
    const message = `Cannot ${call.what}: the ${call.service} answered ${res.status}${
      typeof said === "string" ? `: ${said.slice(0, 200)}` : ""
    }${hint}`;
    // A 503 with Retry-After (a busy preview, the service's database out of reach) is passed on as
    // such, so the client waits and retries; anything else is the web's 502.
    const retryAfter = res.headers.get("retry-after");
    if (res.status === 503 && retryAfter !== null && /^\d{1,5}$/.test(retryAfter)) {
      throw httpError(503, message, { retryAfterS: retryAfter });
    }
    throw httpError(502, message);
  }
  const parsed = call.schema.safeParse(body);
  if (!parsed.success) {
    throw httpError(
      502,
      `Cannot ${call.what}: the ${call.service}'s answer has an unexpected shape`,
    );
  }
  return parsed.data as ServiceAnswer<N>;
}
