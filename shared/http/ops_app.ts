/**
 * The ops endpoints every long-running service serves (and the web mounts):
 *
 * - `GET /health` (alias `/healthz`): runs every check (each within
 *   {@link DEFAULT_CHECK_TIMEOUT_MS}) and answers
 *   `{status: "ok"|"warn"|"degraded", ok, checks: {name: "ok"|"warn"|"fail"}, details: {name: detail}}`:
 *   200 unless a check fails (503). A check returns `true`/`false`,
 *   `{ok, detail}` (e.g. a consumer's "no progress for 75 s with 1,200
 *   pending") or a {@link HealthDetail} `{status: "ok"|"warn"|"fail", …fields}`
 *   (`warn`: healthy, but shown for an operator to look at). Details and
 *   fields are listed under `details`, as are timeouts. A check that throws
 *   fails; its error goes to the log, not the (open) response.
 * - `GET /metrics`: the metrics source's text with its content type.
 *
 * @module
 */
import type { Hono } from "hono";
import type { Logger } from "../log.ts";
import { createBaseApp, SMALL_BODY_LIMIT_BYTES } from "./app.ts";

/**
 * A check's answer as a status with fields to show: `warn` keeps the service
 * healthy (200) but shows in /health what an operator should look at.
 */
export interface HealthDetail {
  status: "ok" | "warn" | "fail";
  [field: string]: unknown;
}

/** What a health check returns: pass/fail, pass/fail with a detail, or a status with fields. */
export type HealthCheckResult = boolean | { ok: boolean; detail?: unknown } | HealthDetail;

/** A named health check: resolves its result, or throws (= fails). */
export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

/** Where `/metrics` comes from (a prom-client registry or an adapted one). */
export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

/** The `/health` body. */
export interface HealthReport {
  status: "ok" | "warn" | "degraded";
  ok: boolean;
  checks: Record<string, "ok" | "warn" | "fail">;
  details: Record<string, unknown>;
}

/** Default most time one health check may take. */
export const DEFAULT_CHECK_TIMEOUT_MS = 2000;

/** A check's result as its status and what to show (undefined: nothing). */
function normalize(result: HealthCheckResult): { status: "ok" | "warn" | "fail"; detail: unknown } {
  if (typeof result === "boolean") return { status: result ? "ok" : "fail", detail: undefined };
  if ("status" in result) {
    const { status, ...fields } = result as HealthDetail;
    const known = status === "ok" || status === "warn" ? status : "fail";
    return { status: known, detail: Object.keys(fields).length ? fields : undefined };
  }
  return { status: result.ok === true ? "ok" : "fail", detail: result.detail };
}

/**
 * Run every check at once, each within `timeoutMs` (a slower one fails with
 * detail "timed out after … ms").
 */
export async function runHealthChecks(
  checks: Record<string, HealthCheck>,
  options: { timeoutMs?: number; log?: Logger } = {},
): Promise<HealthReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const { promise: timedOut, resolve } = Promise.withResolvers<HealthCheckResult>();
      const timer = setTimeout(resolve, timeoutMs, {
        ok: false,
        detail: `timed out after ${timeoutMs} ms`,
      });
      try {
        const result = await Promise.race([Promise.resolve().then(check), timedOut]);
        return [name, normalize(result)] as const;
      } catch (error) {
        options.log?.warn("health check failed", { check: name, error });
        return [name, { status: "fail", detail: "check failed; see the server log" }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report: HealthReport = { status: "ok", ok: true, checks: {}, details: {} };
  for (const [name, { status, detail }] of entries) {
    report.checks[name] = status;
    if (detail !== undefined) report.details[name] = detail;
    if (status === "fail") report.ok = false;
  }
  const warn = Object.values(report.checks).includes("warn");
  report.status = report.ok ? (warn ? "warn" : "ok") : "degraded";
  return report;
}

/** Options of {@link createOpsApp}. */
export interface OpsAppOptions {
  checks: Record<string, HealthCheck>;
  metrics: MetricsSource;
  log: Logger;
  /** Paths that answer the health report. @default {["/health", "/healthz"]} */
  healthPaths?: readonly string[];
  /** Extra fields of the health body (e.g. the web's `live_clients`). */
  extra?: () => Record<string, unknown>;
  /** Largest request body. @default {16384} */
  bodyLimitBytes?: number;
}

/**
 * The ops app: health and metrics on a guarded base app (see `app.ts`).
 * Serve it alone or mount it on a service's app with `app.route("/", ops)`.
 */
export function createOpsApp(options: OpsAppOptions): Hono {
  const app = createBaseApp({
    log: options.log,
    bodyLimitBytes: options.bodyLimitBytes ?? SMALL_BODY_LIMIT_BYTES,
  });
  for (const path of options.healthPaths ?? ["/health", "/healthz"]) {
    app.get(path, async (c) => {
      const report = await runHealthChecks(options.checks, { log: options.log });
      return c.json({ ...report, ...options.extra?.() }, report.ok ? 200 : 503);
    });
  }
  app.get("/metrics", async (c) => {
    c.header("Content-Type", options.metrics.contentType);
    return c.body(await options.metrics.render());
  });
  return app;
}
