/**
 * The page: `/` (index.html), the views it opens by path (`/alerts/:id`, the
 * link of digests; `/entities/:entity`), `/assets/<file>`, `/favicon.ico`
 * (the page's icon) and `/vendor/<module>`, from memory, with ETags. `/api/docs` is served by
 * docs.ts (open even when reads need a token).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { etag } from "hono/etag";
import { z } from "zod";
import { anomalyIdParamsSchema, entityParamsSchema } from "@vigil/shared/schemas/web_api";
import type { Asset, StaticAssets } from "../static.ts";
import { httpError } from "@vigil/shared/http/app";
import { parseOrThrow } from "@vigil/shared/http/validate";

/**
 * Answer `asset` with its ETag. Route it behind {@link cached}: a client that has it gets 304
 * (`If-None-Match`: `*`, or a list compared weakly, RFC 9110 13.1.2: `W/"x"` matches `"x"`; a
 * proxy that compresses weakens the ETag it passes on).
 */
export function serveAsset(c: Context, asset: Asset, cacheControl: string): Response {
  c.header("ETag", asset.etag);
  c.header("Cache-Control", cacheControl);
  c.header("Content-Type", asset.contentType);
  return c.body(asset.body);
}

/** 304 to a client that has the asset (hono/etag keeps the asset's own ETag). */
export const cached = etag();

const DAY = "public, max-age=86400";

/** Routes of the page. */
export function pageRoutes(assets: StaticAssets): Hono {
  const app = new Hono();
  /** The page, its path parameters checked first when `params`. */
  const index = (params?: z.ZodType) => (c: Context) => {
    if (params) parseOrThrow(params, c.req.param(), "path");
    return serveAsset(c, assets.index, "no-cache");
  };
  /** A file, or 404. */
  const file = (c: Context, asset: Asset | undefined, cacheControl: string) => {
    if (!asset) throw httpError(404, "Cannot find this file");
    return serveAsset(c, asset, cacheControl);
  };
  app.get("/", cached, index());
  app.get("/alerts/:id", cached, index(anomalyIdParamsSchema));
  app.get("/entities/:entity", cached, index(entityParamsSchema));
  app.get(
    "/assets/:name",
    cached,
    (c) => file(c, assets.assets.get(c.req.param("name")), "no-cache"),
  );
  // What a browser asks for by itself on a page without a <link rel="icon">: the API's JSON.
  app.get("/favicon.ico", cached, (c) => file(c, assets.assets.get("favicon.svg"), DAY));
  app.get("/vendor/:name", cached, (c) => file(c, assets.vendor.get(c.req.param("name")), DAY));
  return app;
}
