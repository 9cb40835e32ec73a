/**
 * The API's own documentation, open like the ops endpoints (the routes and
 * their schemas are no secret): `GET /api/openapi.json` (OpenAPI 3.1, built
 * once from api_routes.ts) and `GET /api/docs` (the page, which renders that
 * document offline with its own Preact/htm).
 *
 * @module
 */
import { Hono } from "hono";
import { webOpenApiDocument } from "../api_routes.ts";
import type { StaticAssets } from "../static.ts";
import { cached, serveAsset } from "./page.ts";

/** `/api/openapi.json`, and `/api/docs` when the page is served. */
export function docsRoutes(assets: StaticAssets | undefined): Hono {
  const app = new Hono();
  const document = webOpenApiDocument();
  app.get("/api/openapi.json", (c) => c.json(document));
  if (assets) app.get("/api/docs", cached, (c) => serveAsset(c, assets.index, "no-cache"));
  return app;
}
