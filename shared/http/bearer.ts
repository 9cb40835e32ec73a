/**
 * Bearer-token access: `Authorization: Bearer <token>`, compared in
 * constant time by Hono's `bearer-auth` middleware (SHA-256 of both sides,
 * then a constant-time comparison of the digests).
 *
 * Every refusal answers 401 with a JSON body and
 * `WWW-Authenticate: Bearer realm="vigil"` (a missing, malformed or wrong
 * header alike, so a client knows to ask for the token). When no token is
 * configured the guarded endpoints answer 503: a forgotten setting never
 * leaves them open.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { z } from "zod";
import { httpError } from "./app.ts";

/** Characters a bearer token may hold (RFC 6750 `b64token`). */
export const BEARER_TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * Schema of the `VIGIL_API_TOKEN` variable (web, detector): at least 8
 * characters a bearer token can carry; unset = the guarded endpoints answer 503.
 */
export const apiTokenVar = z.string().min(8, "must be at least 8 characters").regex(
  BEARER_TOKEN_PATTERN,
  "must be only A-Z a-z 0-9 - . _ ~ + / (then =), as a bearer token can carry",
);

/** Options of {@link requireBearer}. */
export interface BearerOptions {
  /** The configured token; undefined = the endpoints are disabled (503). */
  token: string | undefined;
  /** Answer when no token is configured. @default {"Cannot accept this request: set VIGIL_API_TOKEN to enable it"} */
  disabledMessage?: string;
}

const REFUSED = "Cannot accept this request: missing or wrong bearer token";

function refuse(c: Context): Response {
  c.header("WWW-Authenticate", 'Bearer realm="vigil"');
  return c.json({ error: REFUSED }, 401);
}

/**
 * Middleware: require `Authorization: Bearer <token>`.
 *
 * @throws {RangeError} when `token` holds characters a bearer token cannot carry
 */
export function requireBearer(options: BearerOptions): MiddlewareHandler {
  const { token } = options;
  if (token === undefined) {
    const message = options.disabledMessage ??
      "Cannot accept this request: set VIGIL_API_TOKEN to enable it";
    return function bearerDisabled() {
      throw httpError(503, message);
    };
  }
  if (!BEARER_TOKEN_PATTERN.test(token)) {
    throw new RangeError(
      "Cannot check bearer tokens: the token must be 1 or more of A-Z a-z 0-9 - . _ ~ + / (then =)",
    );
  }
  return bearerAuth({
    token,
    realm: "vigil",
    noAuthenticationHeader: { message: refuse },
    invalidAuthenticationHeader: { message: refuse },
    invalidToken: { message: refuse },
  });
}
