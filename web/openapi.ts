/**
 * The OpenAPI 3.1 document of the web service, generated from the zod
 * schemas the routes validate with (queries, path parameters, bodies) and
 * the answer schemas of api_responses.ts, with `z.toJSONSchema()` (OpenAPI
 * 3.1 uses JSON Schema 2020-12, zod's default target). Pure.
 *
 * @module
 */
import { z } from "zod";

/** Who may call a route. */
export type Access = "open" | "read" | "token";

/** One answer of a route. */
export interface ResponseDoc {
  description: string;
  /** JSON body schema. */
  schema?: z.ZodType;
  /** Other content type (`text/html`, `text/event-stream`…) whose body is not JSON. */
  contentType?: string;
}

/** One route as documented. */
export interface RouteDoc {
  method: "GET" | "POST" | "DELETE";
  /** Hono form: `/api/anomalies/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  /** Object schema of the path parameters (each `:name` not in it is a plain string). */
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** By status code. */
  responses: Record<number, ResponseDoc>;
}

type JsonSchema = Record<string, unknown>;

const ACCESS_TEXT: Record<Access, string> = {
  open: "Open: no token, ever.",
  read: "Read: open, or the bearer token when WEB_PUBLIC_READ=false.",
  token: "Token: `Authorization: Bearer $VIGIL_API_TOKEN` always (503 when it is unset).",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override(ctx) {
      // `z.number().int()` states the safe-integer range on every integer: noise for readers.
      const s = ctx.jsonSchema as JsonSchema;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
    },
  }) as JsonSchema & { $schema?: unknown };
  return rest;
}

/** `/api/anomalies/:id` → `/api/anomalies/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:(\w+)/g, "{$1}");
}

/** A parameter of `route`, its schema's description lifted to the parameter. */
function parameter(name: string, where: "path" | "query", required: boolean, prop: JsonSchema) {
  const { description, ...schema } = prop;
  return { name, in: where, required, schema, ...(description ? { description } : {}) };
}

function parameters(route: RouteDoc): JsonSchema[] {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const params = route.params ? jsonSchema(route.params, "input") : {};
  const paramProps = (params.properties ?? {}) as Record<string, JsonSchema>;
  const out = names.map((name) =>
    parameter(name, "path", true, paramProps[name] ?? { type: "string" })
  );
  if (route.query) {
    const q = jsonSchema(route.query, "input");
    const required = new Set((q.required ?? []) as string[]);
    for (const [name, prop] of Object.entries((q.properties ?? {}) as Record<string, JsonSchema>)) {
      out.push(parameter(name, "query", required.has(name), prop));
    }
  }
  return out;
}

function responses(route: RouteDoc): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(route.responses).map(([status, r]) => {
      const content = r.schema
        ? { "application/json": { schema: jsonSchema(r.schema, "output") } }
        : r.contentType
        ? { [r.contentType]: {} }
        : undefined;
      return [status, { description: r.description, ...(content ? { content } : {}) }];
    }),
  );
}

/**
 * The OpenAPI 3.1 document of `routes`.
 *
 * @throws {RangeError} when two entries document the same method and path
 */
export function openApiDocument(
  routes: readonly RouteDoc[],
  info: { title: string; version: string; description: string },
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const tags: string[] = [];
  for (const route of routes) {
    const path = openApiPath(route.path);
    const method = route.method.toLowerCase();
    const item = paths[path] ??= {};
    if (item[method]) {
      throw new RangeError(`Cannot document ${route.method} ${route.path} twice`);
    }
    if (!tags.includes(route.tag)) tags.push(route.tag);
    const params = parameters(route);
    item[method] = {
      tags: [route.tag],
      summary: route.summary,
      description: [route.description, ACCESS_TEXT[route.access]].filter(Boolean).join("\n\n"),
      operationId: `${method}${
        path.replace(/[{}]/g, "").split(/[^A-Za-z0-9]+/).filter(Boolean)
          .map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")
      }`,
      "x-access": route.access,
      ...(route.access === "token" ? { security: [{ bearer: [] }] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(route.body
        ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(route.body, "input") } },
          },
        }
        : {}),
      responses: responses(route),
    };
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info,
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "VIGIL_API_TOKEN of the web service",
        },
      },
    },
  };
}
