/**
 * The ops HTTP server every long-running service exposes:
 * `GET /health` (200 when every check passes, status `warn` when one warns,
 * else 503, JSON body) and
 * `GET /metrics` (Prometheus text). Services may add their own routes.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import type { MetricsExposition } from "./metrics.ts";

/**
 * A check's answer with detail: `warn` keeps the service healthy (200) but
 * shows in /health what an operator should look at.
 */
export interface HealthDetail {
  status: "ok" | "warn" | "fail";
  [detail: string]: unknown;
}

/** A named health check: resolves true/false or a detail, or throws (= unhealthy). */
export type HealthCheck = () =>
  | Promise<boolean | HealthDetail>
  | boolean
  | HealthDetail;

/** A check's entry in the /health body. */
export type HealthEntry = "ok" | "fail" | HealthDetail;

/** Options for {@link serveOps}. */
export interface OpsServerOptions {
  port: number;
  hostname?: string;
  /** What `/metrics` serves (a service's metrics `Registry`). */
  registry: MetricsExposition;
  checks: Record<string, HealthCheck>;
  log: Logger;
  /** Extra routes; return undefined to fall through to 404. */
  handler?: (req: Request) => Response | Promise<Response> | undefined;
}

/** A running ops server. */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Run every check with a 2 s timeout; returns the body and overall status
 * (a detail with status `warn` does not make it unhealthy).
 */
export async function runHealthChecks(
  checks: Record<string, HealthCheck>,
): Promise<{ ok: boolean; checks: Record<string, HealthEntry> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, HealthEntry]> => {
      try {
        const answer = await Promise.race([
          Promise.resolve(check()),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
        ]);
        if (typeof answer === "object" && answer !== null) return [name, answer];
        return [name, answer ? "ok" : "fail"];
      } catch {
        return [name, "fail"];
      }
    }),
  );
  const failed = (v: HealthEntry) => v === "fail" || (typeof v === "object" && v.status === "fail");
  return { ok: !entries.some(([, v]) => failed(v)), checks: Object.fromEntries(entries) };
}

/** Start the ops server. */
export function serveOps(options: OpsServerOptions): OpsServer {
  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "127.0.0.1",
    onListen: ({ port, hostname }) => options.log.info("ops server listening", { hostname, port }),
  }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/metrics") {
      return new Response(await options.registry.render(), {
        headers: { "content-type": options.registry.contentType },
      });
    }
    if (req.method === "GET" && (url.pathname === "/health" || url.pathname === "/healthz")) {
      const health = await runHealthChecks(options.checks);
      const warn = Object.values(health.checks).some((v) =>
        typeof v === "object" && v.status === "warn"
      );
      const status = health.ok ? (warn ? "warn" : "ok") : "degraded";
      return Response.json({ status, ...health }, {
        status: health.ok ? 200 : 503,
      });
    }
    const extra = await options.handler?.(req);
    return extra ?? Response.json({ error: "not found" }, { status: 404 });
  });
  return {
    port: server.addr.port,
    close: () => server.shutdown(),
  };
}
