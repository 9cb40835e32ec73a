/**
 * Bearer-token access control. Mutating endpoints always need the token
 * (`VIGIL_API_TOKEN`); when no token is configured they answer 503, so a
 * forgotten setting never leaves them open. Read endpoints are open unless
 * `WEB_PUBLIC_READ=false`.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { tokenMatches } from "@vigil/shared/auth";
import { httpError } from "./http.ts";

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

/**
 * Middleware: require `Authorization: Bearer <token>`.
 *
 * @param token the configured token; undefined = the endpoint is disabled (503)
 */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined) {
      throw httpError(503, "Cannot accept this request: set VIGIL_API_TOKEN to enable it");
    }
    const given = bearerToken(c.req.header("authorization"));
    if (given === null || !tokenMatches(given, token)) {
      c.header("WWW-Authenticate", 'Bearer realm="vigil"');
      throw httpError(401, "Cannot accept this request: missing or wrong bearer token");
    }
    await next();
  };
}

/**
 * Middleware for `/api/*`: mutating methods need the token; reads need it
 * only when `publicRead` is false.
 */
export function apiAccess(options: { token: string | undefined; publicRead: boolean }) {
  const check = requireToken(options.token);
  const middleware: MiddlewareHandler = async (c, next) => {
    const reading = c.req.method === "GET" || c.req.method === "HEAD";
    if (reading && options.publicRead) return await next();
    return await check(c, next);
  };
  return middleware;
}
