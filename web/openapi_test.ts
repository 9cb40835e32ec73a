import assert from "node:assert/strict";
import { webOpenApiDocument } from "./api_routes.ts";

type Param = { name: string; in: string; description?: string };
type Doc = { paths: Record<string, Record<string, { parameters?: Param[] }>> };

Deno.test("the OpenAPI document states the range and default of every count in a query", () => {
  const doc = webOpenApiDocument() as unknown as Doc;
  const counts: Record<string, string | undefined> = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      for (const p of op.parameters ?? []) {
        if (p.in === "query" && (p.name === "limit" || p.name === "points")) {
          counts[`${method.toUpperCase()} ${path} ${p.name}`] = p.description;
        }
      }
    }
  }
  // The API docs page showed `limit` as "string (pattern ^\d{1,10}$)": no range, no default.
  assert.deepEqual(counts, {
    "GET /api/anomalies limit": "How many to answer: a whole number from 1 to 500 (default 50)",
    "GET /api/series/{type}/{entity} limit":
      "How many to answer: a whole number from 1 to 5000 (default 500)",
    "GET /api/entities/{entity} limit":
      "Most recent anomalies listed: a whole number from 1 to 200 (default 20)",
    "GET /api/entities/{entity} points":
      "Most cached points per series: a whole number from 1 to 1000 (default 300)",
    "GET /api/silences limit": "How many to answer: a whole number from 1 to 5000 (default 500)",
  });
});
