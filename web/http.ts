/**
 * HTTP helpers shared by the routes: zod validation of query, path and body
 * with clear 400 errors.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { formatZodError } from "@vigil/shared/schemas/event";

/** A 4xx/5xx answer with a JSON body `{error}`. */
export function httpError(status: 400 | 401 | 403 | 404 | 409 | 413 | 503, message: string) {
  return new HTTPException(status, { message });
}

/**
 * Parse `value` with `schema` or throw a 400 naming the bad fields.
 *
 * @throws {HTTPException} 400 "Cannot read <what>: <field>: <problem>"
 */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw httpError(400, `Cannot read ${what}: ${formatZodError(result.error)}`);
  return result.data;
}

/** The query string as a plain object (last value wins for repeated keys). */
export function queryOf(c: Context): Record<string, string> {
  return c.req.query();
}

/**
 * Read a JSON body and validate it with `schema`.
 *
 * @throws {HTTPException} 400 when the body is not JSON or does not match
 */
export async function readJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw httpError(400, "Cannot read body: not valid JSON");
  }
  return parseOr400(schema, body, "body");
}
