/**
 * Prometheus metrics of the web service.
 *
 * @module
 */
import type { Registry } from "@vigil/shared/metrics";

/**
 * The `route` of a request the request-head guard answered itself (408, 414, 431, 400, 505, 503
 * of `shared/http/serve.ts`): it never reached the app's routing.
 */
export const UNROUTED = "unrouted";

/** The web service's metrics. */
export type WebMetrics = ReturnType<typeof createWebMetrics>;

/** Register the web metrics in `registry`. */
export function createWebMetrics(registry: Registry) {
  return {
    requests: registry.counter(
      "vigil_web_http_requests_total",
      "HTTP requests by route pattern and status",
      ["route", "status"],
    ),
    requestSeconds: registry.histogram(
      "vigil_web_http_request_seconds",
      "HTTP request duration by route pattern (for SSE: until headers)",
      ["route"],
    ),
    sseClients: registry.gauge("vigil_web_sse_clients", "Connected live (SSE) clients"),
    sseMessages: registry.counter(
      "vigil_web_sse_messages_total",
      "Messages written to live clients by event",
      ["event"],
    ),
    alertsReceived: registry.counter(
      "vigil_web_alerts_received_total",
      "Alerts received on the live Pub/Sub channel by result",
      ["result"],
    ),
  };
}
