/**
 * Access to `/api/*`: mutating endpoints always need the bearer token
 * (`VIGIL_API_TOKEN`, checked by shared/http/bearer.ts); when no token is
 * configured they answer 503, so a forgotten setting never leaves them open.
 * Read endpoints are open unless `WEB_PUBLIC_READ=false`.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { requireBearer } from "@vigil/shared/http/bearer";

/**
 * Middleware for `/api/*`: mutating methods need the token; reads need it
 * only when `publicRead` is false.
 */
export function apiAccess(
  options: { token: string | undefined; publicRead: boolean },
): MiddlewareHandler {
  const check = requireBearer({ token: options.token });
  return async function apiAccess(c, next) {
    const reading = c.req.method === "GET" || c.req.method === "HEAD";
    if (reading && options.publicRead) return await next();
    return await check(c, next);
  };
}
