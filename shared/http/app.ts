/**
 * The base of every Vigil HTTP app: JSON errors (`{"error": "…"}`, never a
 * stack trace), a JSON 404, and the request guard on every route:
 *
 * - a path or query that holds a control character (U+0000–U+001F, U+007F)
 *   or is not valid UTF-8 once percent-decoded answers 400, before any
 *   handler sees it (PostgreSQL refuses NUL in text: it used to be a 500);
 * - a body over the app's limit answers 413 without being read past the
 *   limit (`Content-Length` is checked first; chunked bodies are counted). A
 *   GET's or HEAD's body is refused by its `Content-Length` alone: Deno hands
 *   none over (the server discards it; a chunked one is not counted).
 *
 * @module
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timeout } from "hono/timeout";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { routePath } from "hono/route";
import type { Logger } from "../log.ts";
import { connectionSettingsProblem, isConnectionError } from "../postgres_errors.ts";
import { BAD_HOST, validHost } from "./request_target.ts";
import { escapeUnshown } from "../schemas/hygiene.ts";

/** Body limit of the ops endpoints and small JSON APIs (detector, notifier). */
export const SMALL_BODY_LIMIT_BYTES = 16 * 1024;

/**
 * A 4xx/5xx answer with a JSON body `{error: message}`; with `retryAfterS`, a
 * `Retry-After` header too (a 503 that a later request may well not get).
 */
export function httpError(
  status: ContentfulStatusCode,
  message: string,
  options: { retryAfterS?: number | string } = {},
): HTTPException {
  if (options.retryAfterS === undefined) return new HTTPException(status, { message });
  const headers = { "Retry-After": String(options.retryAfterS) };
  return new HTTPException(status, {
    message,
    res: Response.json({ error: message }, { status, headers }),
  });
}

/**
 * `work`'s value; a RangeError it rejects with (input the store refuses, a limit reached) is
 * answered `status` with its message ({@link httpError}), not a 500.
 */
export function answerRangeError<T>(
  work: Promise<T>,
  answer: { status: ContentfulStatusCode; retryAfterS?: number },
): Promise<T> {
  return work.catch((error) => {
    throw error instanceof RangeError ? httpError(answer.status, error.message, answer) : error;
  });
}

/** Options of {@link createBaseApp}. */
export interface BaseAppOptions {
  log: Logger;
  /** Largest request body; larger answers 413. */
  bodyLimitBytes: number;
}

/**
 * A Hono app with JSON errors, a JSON 404 and {@link guardRequests} on every
 * route. Services add their routes to it (or mount other apps on it).
 *
 * @throws {RangeError} when `bodyLimitBytes` is not a positive integer
 */
export function createBaseApp(options: BaseAppOptions): Hono {
  const app = new Hono();
  handleErrors(app, options);
  app.use("*", headContentLength);
  app.use("*", guardRequests(options));
  return app;
}

/**
 * JSON errors for `app`: an {@link HTTPException} answers its status with
 * `{error: message}` (or its own response); PostgreSQL or Redis out of reach
 * ({@link dependencyDown}) answers `503` with `Retry-After`, logged as a
 * warning; anything else is logged and answers `500 {"error": "Internal
 * error; see the server log"}`. Unknown routes answer `404 {"error": "Not
 * found"}`, or `405` with `Allow` when the path is served for other methods. What a message
 * quotes of the request (a path, a query name) may hold a control or bidirectional character,
 * which reordered the rest in a terminal or a page: each is written as its escape (`\u202e`),
 * whichever route quoted it.
 */
export function handleErrors(app: Hono, options: { log: Logger }): void {
  app.onError((error, c) => {
    const request = { method: c.req.method, route: routePath(c) };
    if (clientGone(error)) {
      // Reading the body failed because the client went away (or was cut off by the guard).
      options.log.warn("request cut off", { ...request, error });
      return c.json({ error: "Cannot read request: the connection closed" }, 400);
    }
    // Before HTTPException: a deadline's error is one (hono/timeout wants one), and an outage.
    if (dependencyDown(error)) {
      options.log.warn("request failed: a database is out of reach", { ...request, error });
      c.header("Retry-After", "5");
      return c.json({ error: "Service unavailable: a database is out of reach; retry later" }, 503);
    }
    const problem = connectionSettingsProblem(error);
    if (problem) {
      // A password rotated or a role dropped while running: the operator's to fix, not a bug.
      options.log.error("request failed: PostgreSQL refuses the connection settings", {
        ...request,
        problem,
      });
      c.header("Retry-After", "5");
      const error = "Service unavailable: the database refuses this server's connection settings";
      return c.json({ error }, 503);
    }
    if (error instanceof HTTPException) {
      if (error.res) return error.getResponse();
      return c.json({ error: escapeUnshown(error.message || "Request failed") }, error.status);
    }
    options.log.error("request failed", { ...request, error });
    return c.json({ error: "Internal error; see the server log" }, 500);
  });
  app.notFound((c) => {
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const allowed = allowedMethods(app, c.req.path);
    if (allowed.length === 0 || allowed.includes(method)) {
      return c.json({ error: "Not found" }, 404);
    }
    const allow = allowed.join(", ");
    c.header("Allow", allow);
    return c.json(
      {
        error: escapeUnshown(`Cannot accept method ${c.req.method} on ${c.req.path}: use ${allow}`),
      },
      405,
    );
  });
}

/**
 * The methods of `app`'s routes (not its middleware) that match `path`, HEAD
 * beside GET (Hono serves HEAD with the GET handler): what a 405's `Allow` lists.
 */
function allowedMethods(app: Hono, path: string): string[] {
  const methods = new Set(app.routes.map((r) => r.method).filter((m) => m !== "ALL"));
  const allowed = [...methods].filter((method) =>
    app.router.match(method, path)[0].some(([[, route]]) => route.method === method)
  );
  if (allowed.includes("GET")) allowed.splice(allowed.indexOf("GET") + 1, 0, "HEAD");
  return allowed;
}

/** What {@link deadline} raises: the handler was still waiting when its time was up. */
export class DeadlineError extends HTTPException {
  constructor(readonly ms: number) {
    super(503, { message: `no answer within ${ms / 1000} s` });
    this.name = "DeadlineError";
  }
}

/**
 * Middleware: a handler that has not answered within `ms` answers 503 with
 * `Retry-After`, as for a database out of reach (its work is let go). A
 * query waits as long as an outage lasts when postgres.js reconnects instead
 * of failing (a PostgreSQL behind a proxy that accepts and closes
 * connections), and a request with it.
 */
export function deadline(ms: number): MiddlewareHandler {
  return timeout(ms, () => new DeadlineError(ms));
}

/**
 * PostgreSQL or Redis out of reach, not a fault of the request
 * ({@link isConnectionError}; ioredis: a closed connection or exhausted
 * retries), or no answer before a {@link deadline}.
 */
function dependencyDown(error: Error): boolean {
  return error instanceof DeadlineError || isConnectionError(error) ||
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed.";
}

/** Errors Deno raises when a request body cannot be read because its connection closed. */
function clientGone(error: Error): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Http ||
    error instanceof Deno.errors.ConnectionReset;
}

/** Methods `new Request()` refuses (CONNECT never gets this far: Deno's server answers 400). */
const FORBIDDEN_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);

// A request is guarded once, by the first guard it meets: an app mounted on
// another (both built on createBaseApp) does not check it twice.
const guarded = new WeakSet<Context>();

/**
 * Middleware: refuse control characters and malformed percent-encoding in
 * the path and query (400), and bodies over `bodyLimitBytes` (413).
 *
 * @throws {RangeError} when `bodyLimitBytes` is not a positive integer
 */
export function guardRequests(options: { bodyLimitBytes: number }): MiddlewareHandler {
  const max = options.bodyLimitBytes;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot guard requests: 'bodyLimitBytes' must be a positive integer: current value is ${max}`,
    );
  }
  const tooLarge = (c: Context) =>
    c.json({ error: `Cannot read body: larger than ${max} bytes` }, 413);
  const limit = bodyLimit({ maxSize: max, onError: tooLarge });
  return async function guardRequest(c, next) {
    if (guarded.has(c)) return await next();
    guarded.add(c);
    // The serve guard checked Host already, unless it is off (HTTP_HEADER_TIMEOUT=0): Deno.serve
    // makes the URL http://<Host><target> (Host: a/b moves the path; <script> makes it invalid).
    if (!validHost(c.req.header("host") ?? "")) {
      return c.json({ error: `Cannot read request: ${BAD_HOST}` }, 400);
    }
    const problem = urlProblem(c.req.url);
    if (problem) return c.json({ error: problem }, 400);
    const raw = c.req.raw;
    const method = raw.method.toUpperCase();
    if (FORBIDDEN_METHODS.has(method) || raw.method !== method) {
      // Deno.serve hands them over with a body, but `new Request()` refuses them (the Fetch
      // standard's forbidden methods). Methods are case-sensitive, but remaking the request below
      // reads `get`, `Head`, `post` as GET, HEAD, POST: a 500 for a body with `get`, and `post` was
      // served as POST with a chunked body, 405 with a length (routed as `post`).
      c.header("Allow", "GET, HEAD, POST, DELETE");
      return c.json({ error: `Cannot accept method ${raw.method}: not served here` }, 405);
    }
    // A GET's or HEAD's body is not handed over (Deno): nothing reads it, but the limit holds.
    // parseInt: a length sent twice reads "N, N" (the serve guard refused two different ones).
    if (!raw.body && parseInt(raw.headers.get("content-length") ?? "0", 10) > max) {
      return tooLarge(c);
    }
    if (raw.body && (!raw.headers.has("content-length") || raw.headers.has("transfer-encoding"))) {
      // The limit reads such a body and makes the request again from it, which reads its
      // `signal`: on a request of Deno.serve that prints a raw (non-JSON) warning on stderr. So
      // it makes it again from this copy, whose signal is its own.
      c.req.raw = new Request(raw.url, {
        method: raw.method,
        headers: raw.headers,
        body: raw.body,
        duplex: "half",
      } as RequestInit);
    }
    return await limit(c, next);
  };
}

/**
 * Middleware, first of an app: a HEAD's answer says its GET's `Content-Length`. Hono serves HEAD
 * with the GET handler and drops the body, and the server then wrote `Content-Length: 0` (RFC
 * 9110 8.6: a HEAD's Content-Length is the GET's, or absent). Counted again by each (an app
 * mounted on another has its own): the outer app may have replaced the body. Not for a stream.
 */
export const headContentLength: MiddlewareHandler = async (c, next) => {
  await next();
  const res = c.res;
  if (c.req.method !== "HEAD" || res.body === null) return;
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) return;
  res.headers.set("content-length", String((await res.clone().arrayBuffer()).byteLength));
};

// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function decodeOrNull(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** Why a request URL is refused, or null. Exported for tests. */
export function urlProblem(url: string): string | null {
  // Raw control characters cannot reach here (the HTTP parser refuses them), and without a
  // percent sign nothing decodes to one.
  const at = url.indexOf("%");
  if (at < 0) return null;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const queryStart = url.indexOf("?");
  const hashStart = url.indexOf("#");
  const end = hashStart < 0 ? url.length : hashStart;
  const path = url.slice(pathStart < 0 ? 0 : pathStart, queryStart < 0 ? end : queryStart);
  const decodedPath = decodeOrNull(path);
  if (decodedPath === null) return "Cannot read path: malformed percent-encoding or not UTF-8";
  if (CONTROL.test(decodedPath)) return "Cannot read path: must not contain control characters";
  if (queryStart < 0) return null;
  for (const pair of url.slice(queryStart + 1, end).split("&")) {
    const eq = pair.indexOf("=");
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decodeOrNull(rawName.replaceAll("+", " "));
    const value = eq < 0 ? "" : decodeOrNull(pair.slice(eq + 1).replaceAll("+", " "));
    const shown = name === null || CONTROL.test(name) ? "(name)" : name.slice(0, 40);
    if (name === null || value === null) {
      return `Cannot read query: ${shown}: malformed percent-encoding or not UTF-8`;
    }
    if (CONTROL.test(name) || CONTROL.test(value)) {
      return `Cannot read query: ${shown}: must not contain control characters`;
    }
  }
  return null;
}
