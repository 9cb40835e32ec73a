/**
 * The page: `/` (index.html), `/assets/<file>` and `/vendor/<module>`, from
 * memory, with ETags.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Asset, StaticAssets } from "../static.ts";
import { httpError } from "@vigil/shared/http/app";

function serve(c: Context, asset: Asset, cacheControl: string): Response {
  c.header("ETag", asset.etag);
  c.header("Cache-Control", cacheControl);
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304);
  c.header("Content-Type", asset.contentType);
  return c.body(asset.body);
}

/** Routes of the page. */
export function pageRoutes(assets: StaticAssets): Hono {
  const app = new Hono();
  app.get("/", (c) => serve(c, assets.index, "no-cache"));
  app.get("/assets/:name", (c) => {
    const asset = assets.assets.get(c.req.param("name"));
    if (!asset) throw httpError(404, "Cannot find this file");
    return serve(c, asset, "no-cache");
  });
  app.get("/vendor/:name", (c) => {
    const asset = assets.vendor.get(c.req.param("name"));
    if (!asset) throw httpError(404, "Cannot find this file");
    return serve(c, asset, "public, max-age=86400");
  });
  return app;
}
