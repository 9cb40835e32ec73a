/**
 * zod validation of request bodies, queries and path parameters, as Hono
 * middleware (handlers read `c.req.valid("json" | "query")`, typed from the
 * schema) or as a plain parse for values read in the handler.
 *
 * Refusals are JSON `{"error": "Cannot read body: count: must not be negative"}`:
 * 400 by default (`invalidStatus` 422 for a well-formed body with bad values).
 * A body that is not JSON answers 400 whatever its `Content-Type` says, and
 * so does one that is not UTF-8 (a lossy decode would store U+FFFD) or a
 * string holding NUL or a lone surrogate anywhere in a body (PostgreSQL
 * cannot store either).
 *
 * @module
 */
import type { Env, MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { formatZodError } from "../schemas/event.ts";
import { findDuplicateKey } from "../schemas/duplicate_keys.ts";
import { unstorableTextProblem } from "../schemas/hygiene.ts";
import { httpError } from "./app.ts";
import { strictUtf8 } from "../text.ts";

/** How a refusal reads. */
export interface ValidationOptions {
  /** Status of a value the schema refuses. @default {400} */
  invalidStatus?: ContentfulStatusCode;
  /** Text before the zod issues. @default {"Cannot read <body|query|path>: "} */
  prefix?: string;
}

/** Options of {@link jsonBody}. */
export interface JsonBodyOptions extends ValidationOptions {
  /** Answer (400) to a body that is not JSON. @default {"Cannot read body: not valid JSON"} */
  notJsonMessage?: string;
}

/**
 * Parse `value` with `schema` or throw an HTTP error naming the bad fields.
 *
 * @param what `body`, `query`, `path`, `id`… (used in the default prefix)
 * @throws {HTTPException} `invalidStatus` (400) "Cannot read <what>: <field>: <problem>"
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  options: ValidationOptions = {},
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw httpError(
      options.invalidStatus ?? 400,
      `${options.prefix ?? `Cannot read ${what}: `}${formatZodError(result.error)}`,
    );
  }
  return result.data;
}

/** A string in a body that PostgreSQL cannot store: where (keys and indexes) and why. */
export interface UnstorableText {
  path: string[];
  problem: string;
}

/**
 * The first string (key or value) in `value` holding NUL or a lone surrogate,
 * or null. Iterative: a body within the 64 KiB limit can nest ~32,000 levels,
 * deeper than a recursive walk's call stack.
 */
export function findUnstorableText(value: unknown): UnstorableText | null {
  type Item = { value: unknown; key: string; parent: Item | null };
  const pathOf = (item: Item | null, last?: string): string[] => {
    const path = last === undefined ? [] : [last];
    for (let at = item; at?.parent; at = at.parent) path.push(at.key);
    return path.reverse();
  };
  const stack: Item[] = [{ value, key: "", parent: null }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (typeof v === "string") {
      const problem = unstorableTextProblem(v);
      if (problem) return { path: pathOf(item), problem };
    } else if (v !== null && typeof v === "object") {
      const entries = Object.entries(v);
      for (const [k] of entries) {
        const problem = unstorableTextProblem(k);
        if (problem) return { path: pathOf(item, "(key)"), problem };
      }
      // Pushed in reverse so the first field is looked at first.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        stack.push({ value: child, key, parent: item });
      }
    }
  }
  return null;
}

/**
 * Middleware: read the body as JSON (whatever its `Content-Type`; a key
 * repeated in one object is refused, as the bridge refuses it in events),
 * validate it with `schema`; the handler reads the result with
 * `c.req.valid("json")`.
 */
export function jsonBody<S extends z.ZodType, E extends Env = Env>(
  schema: S,
  options: JsonBodyOptions = {},
): MiddlewareHandler<E, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }> {
  const prefix = options.prefix ?? "Cannot read body: ";
  return async function validateJsonBody(c, next) {
    // Strict: a lossy decode would turn bytes that are not UTF-8 into U+FFFD, stored silently.
    const text = strictUtf8(new Uint8Array(await c.req.arrayBuffer()));
    if (text === null) throw httpError(400, `${prefix}not valid UTF-8`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw httpError(400, options.notJsonMessage ?? "Cannot read body: not valid JSON");
    }
    // JSON.parse keeps the last of a repeated key; a proxy or a log may read the first.
    const duplicate = findDuplicateKey(text);
    if (duplicate !== undefined) {
      throw httpError(400, `${prefix}duplicate key ${JSON.stringify(duplicate.slice(0, 100))}`);
    }
    const bad = findUnstorableText(body);
    if (bad) {
      const where = bad.path.length ? bad.path.join(".") : "(root)";
      throw httpError(400, `${prefix}${where}: ${bad.problem}`);
    }
    c.req.addValidatedData("json", parseOrThrow(schema, body, "body", options) as object);
    await next();
  };
}

/**
 * Middleware: validate the query string, one value per name: a name given
 * twice answers 400 (`?type=logs&type=metrics` read as the first alone would
 * list only the logs and say nothing about the metrics); the handler reads the
 * result with `c.req.valid("query")`.
 */
export function query<S extends z.ZodType, E extends Env = Env>(
  schema: S,
): MiddlewareHandler<
  E,
  string,
  { in: { query: Record<string, string> }; out: { query: z.output<S> } }
> {
  return async function validateQuery(c, next) {
    const names = c.req.url.includes("?") ? new URL(c.req.url).searchParams.keys() : [];
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) {
        throw httpError(
          400,
          `Cannot read query: ${
            name.slice(0, 40)
          }: given twice; give it once (a comma list where it takes several: type=logs,metrics)`,
        );
      }
      seen.add(name);
    }
    c.req.addValidatedData("query", parseOrThrow(schema, c.req.query(), "query") as object);
    await next();
  };
}

/**
 * Middleware of a route that takes no query: any name answers 400, as an unknown name does on
 * the routes that take some (`POST /api/silences?dry_run=true` created a silence, and
 * `/api/system/rules?rule=x` answered every rule).
 */
export const noQuery = query(z.strictObject({}));
