/**
 * The page's files, read once at start into memory: `web/static/*` (served
 * under `/assets/`, `index.html` at `/`) and the ES modules of preact,
 * preact/hooks and htm from `node_modules` (served under `/vendor/`, mapped
 * by the import map in index.html). Nothing is fetched at run time and
 * there is no build step.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** One file ready to serve. */
export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
}

/** Every file of the page. */
export interface StaticAssets {
  index: Asset;
  /** By file name (`app.js`), served at `/assets/<name>`. */
  assets: Map<string, Asset>;
  /** By file name (`preact.mjs`), served at `/vendor/<name>`. */
  vendor: Map<string, Asset>;
  /** CSP source for the inline import map (`'sha256-…'`). */
  importMapHash: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** node_modules files served under /vendor/. */
const VENDOR: Record<string, string> = {
  "preact.mjs": "preact/dist/preact.module.js",
  "preact-hooks.mjs": "preact/hooks/dist/hooks.module.js",
  "htm.mjs": "htm/dist/htm.module.js",
};

function asset(body: Uint8Array<ArrayBuffer>, name: string): Asset {
  const ext = name.slice(name.lastIndexOf(".") + 1);
  return {
    body,
    contentType: TYPES[ext] ?? "application/octet-stream",
    etag: `"${createHash("sha1").update(body).digest("base64url")}"`,
  };
}

/**
 * Read the page's files: web/static next to this module, and the modules it
 * imports from node_modules at the repository root.
 *
 * @throws {Error} "Cannot load page: …" when a file is missing (run `deno install`)
 */
export async function loadStaticAssets(): Promise<StaticAssets> {
  const staticDir = new URL("./static/", import.meta.url);
  const nodeModules = new URL("../node_modules/", import.meta.url);
  const assets = new Map<string, Asset>();
  let index: Asset | undefined;
  let importMap = "";
  for await (const entry of Deno.readDir(staticDir)) {
    if (!entry.isFile || entry.name.startsWith(".") || entry.name.endsWith("_test.ts")) continue;
    const body = await Deno.readFile(new URL(entry.name, staticDir));
    if (entry.name === "index.html") {
      index = asset(body, entry.name);
      const text = new TextDecoder().decode(body);
      importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(text)?.[1] ?? "";
    } else {
      assets.set(entry.name, asset(body, entry.name));
    }
  }
  if (!index) throw new Error(`Cannot load page: no index.html in ${staticDir.pathname}`);
  const vendor = new Map<string, Asset>();
  for (const [name, path] of Object.entries(VENDOR)) {
    try {
      vendor.set(name, asset(await Deno.readFile(new URL(path, nodeModules)), name));
    } catch (error) {
      throw new Error(
        `Cannot load page: ${path} is missing from node_modules (run \`deno install\`): ${
          (error as Error).message
        }`,
      );
    }
  }
  const importMapHash = `'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;
  return { index, assets, vendor, importMapHash };
}
