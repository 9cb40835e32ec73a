/**
 * Helpers of the web's browser tests: the app served on a real port, and
 * headless Chromium (playwright-core, /usr/bin/chromium, a fresh profile)
 * that records console errors.
 *
 * @module
 */
import type { Hono } from "hono";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { serve } from "@vigil/shared/http/serve";
import { silentLogger } from "@vigil/tools/testing/log";

/** Where the browser tests write their screenshots. */
export const SCREENSHOTS = new URL("../../test-output/web/", import.meta.url);

/** Chromium flags for these machines (see ENVIRONMENT.md). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser with one page. */
export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors so far. */
  errors: string[];
  /** Save a screenshot as `test-output/web/<name>`. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** Launch Chromium with a fresh profile. */
export async function launchBrowser(
  options: {
    viewport?: { width: number; height: number };
    timezoneId?: string;
    /** The browser's language (`navigator.language`, Intl's default); en-US unless given. */
    locale?: string;
    /** Let the test inject scripts (axe-core) past the page's Content-Security-Policy. */
    bypassCSP?: boolean;
  } = {},
): Promise<TestBrowser> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const profile = await Deno.makeTempDir({ prefix: "vigil-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1360, height: 860 },
    colorScheme: "light",
    locale: options.locale ?? "en-US",
    ...(options.bypassCSP ? { bypassCSP: true } : {}),
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return {
    context,
    page,
    errors,
    async screenshot(name, o = {}) {
      await page.screenshot({ path: new URL(name, SCREENSHOTS).pathname, ...o });
    },
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Serve `app` on an ephemeral port as in production (behind the request-head guard). */
export function serveApp(app: Hono): { base: string; close(): Promise<void> } {
  const server = serve(app, { port: 0, log: silentLogger() });
  return { base: `http://127.0.0.1:${server.port}`, close: () => server.close() };
}

/** Whether the page scrolls sideways (wider than its viewport). */
export async function scrollsSideways(page: Page): Promise<boolean> {
  return await page.evaluate(() =>
    document.documentElement.scrollWidth > document.documentElement.clientWidth
  );
}

/**
 * `res` whose body ends cleanly once `signal` aborts (as a proxy dropping the connection would),
 * letting go of the app's stream so the hub sees the client leave: a live stream to cut in a test.
 */
export function cuttable(res: Response, signal: AbortSignal): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      signal.addEventListener("abort", () => {
        try {
          controller.close();
        } catch { /* already closed */ }
        reader.cancel().catch(() => {});
      }, { once: true });
    },
    async pull(controller) {
      const next = await reader.read().catch(() => ({ done: true as const }));
      if (signal.aborted) return;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      reader.cancel().catch(() => {});
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

/**
 * Record every state the page's live badge shows from now on. A state shown briefly (reconnecting
 * for half a second) can fall between two polls of `waitForSelector` on a loaded machine; a
 * mutation observer sees each one. `seen(state)` waits until the badge has shown `state`.
 */
export async function watchLiveStates(
  page: Page,
): Promise<{ seen(state: string, timeout?: number): Promise<void> }> {
  await page.evaluate(() => {
    const w = globalThis as unknown as { liveStates: string[] };
    w.liveStates = [];
    const note = (state: string | null | undefined) => {
      if (state && w.liveStates.at(-1) !== state) w.liveStates.push(state);
    };
    note(document.querySelector<HTMLElement>(".live")?.dataset.state);
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes" && (r.target as Element).matches(".live")) note(r.oldValue);
      }
      note(document.querySelector<HTMLElement>(".live")?.dataset.state);
    }).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["data-state"],
      attributeOldValue: true,
    });
  });
  return {
    async seen(state, timeout = 15_000) {
      await page.waitForFunction(
        (s) => (globalThis as unknown as { liveStates: string[] }).liveStates.includes(s),
        state,
        { timeout },
      );
    },
  };
}
