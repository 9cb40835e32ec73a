// Talking to the Vigil web API: JSON requests with the optional bearer token,
// and the live stream (live.js), one connection shared by every tab of the page.

import { useEffect, useMemo, useRef } from "preact/hooks";
import { browserClock, openLive } from "./live.js";
import { loadSetting, saveSetting } from "./settings.js";
import { noteServerDate } from "./time.js";

const TOKEN_KEY = "vigil.token";

/** The API token saved in this browser (or held for this page), or "". */
export function getToken() {
  return loadSetting(TOKEN_KEY, "");
}

/** Save (or clear with "") the API token. */
export function setToken(token) {
  saveSetting(TOKEN_KEY, token);
  for (const told of tokenListeners) told();
}

/** What a bearer token may hold (as the server's `VIGIL_API_TOKEN`, shared/http/bearer.ts). */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/-]+=*$/;

/** Why `token` cannot be an API token (a stray character pasted with it…), or null. */
export function tokenProblem(token) {
  if (!token) return "The token is empty.";
  return TOKEN_PATTERN.test(token)
    ? null
    : "A token holds only A-Z a-z 0-9 - . _ ~ + / (then =): check what was pasted.";
}

function headers(extra = {}) {
  const token = getToken();
  // A saved token no header can carry made every request fail, reads included: not sent.
  return token && !tokenProblem(token) ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

/** An API failure with the server's message and status. */
export class ApiError extends Error {
  constructor(status, message, retryAfterMs = null, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    /** The server's Retry-After, in ms, when it sent one. */
    this.retryAfterMs = retryAfterMs;
    /** The answer's JSON (a 409 of an acknowledgement carries the one that stands). */
    this.body = body;
  }
}

/**
 * How long to wait before asking again after `error`, or null when asking
 * again will not help (a 4xx): a 503 while a database is out of reach (its
 * Retry-After), a 502/504 from a proxy, or no answer at all (fetch failed).
 */
export function retryDelayMs(error) {
  if (error instanceof ApiError) {
    if (![429, 502, 503, 504].includes(error.status)) return null;
    return Math.min(Math.max(error.retryAfterMs ?? 5000, 1000), 60_000);
  }
  return error instanceof TypeError ? 5000 : null;
}

/**
 * Asking again after a read failed for a passing reason ({@link retryDelayMs}):
 * `after(error, fn)` calls `fn` once the delay has passed (nothing when asking
 * again will not help), `cancel()` forgets it; a component that goes away
 * cancels it. So a page recovers from an outage without a reload.
 */
export function useRetry() {
  const timer = useRef(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useMemo(() => ({
    cancel: () => clearTimeout(timer.current),
    after(error, fn) {
      clearTimeout(timer.current);
      const wait = retryDelayMs(error);
      if (wait !== null) timer.current = setTimeout(fn, wait);
    },
  }), []);
}

/**
 * `task` (a function returning a promise) run at most once at a time and at most every `gapMs`:
 * calls while it runs or within the gap are merged into one run after it, so a burst of live
 * alerts costs a request or two, not one each (and answers cannot arrive out of order). Returns
 * the function to call, with `cancel()` for unmounting.
 *
 * @param {() => Promise<unknown>} task
 * @param {number} gapMs
 * @param {{ now(): number, setTimeout(fn: () => void, ms: number): unknown,
 *   clearTimeout(id: unknown): void }} [clock] timers (a test's hand-driven clock)
 */
export function coalesce(task, gapMs, clock = browserClock) {
  let running = false;
  let again = false;
  let timer;
  let last = -Infinity;
  const run = async () => {
    timer = undefined;
    running = true;
    again = false;
    last = clock.now();
    try {
      await task();
    } catch {
      // The task reports its own failures; the next call runs it again.
    }
    running = false;
    if (again) ask();
  };
  const ask = () => {
    if (running) again = true;
    else timer ??= clock.setTimeout(run, Math.max(0, last + gapMs - clock.now()));
  };
  ask.cancel = () => {
    clock.clearTimeout(timer);
    timer = undefined;
    again = false;
  };
  return ask;
}

async function handle(res) {
  noteServerDate(res.headers.get("date"));
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (proxy error page…): fall through with a generic message.
  }
  if (!res.ok) {
    const seconds = Number(res.headers.get("retry-after") ?? NaN);
    throw new ApiError(
      res.status,
      body?.error ?? `Request failed (HTTP ${res.status})`,
      Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null,
      body,
    );
  }
  return body;
}

/** GET a JSON API path with query parameters (undefined/"" values are left out). */
export async function getJson(path, params = {}, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const url = q.size ? `${path}?${q}` : path;
  return handle(await fetch(url, { headers: headers(), signal }));
}

/** Send JSON with `method`. */
export async function sendJson(method, path, body) {
  return handle(
    await fetch(path, {
      method,
      headers: headers({ "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}

/** Told when a token is saved: the live connection tries again with it at once. */
const tokenListeners = new Set();

/**
 * Keep a live connection to /api/live. Calls onEvent(name, data) for every
 * event and onStatus("connecting" | "live" | "reconnecting", info) on
 * changes (`info.reconnected` or `info.first`: read again what the page shows);
 * reconnects with capped backoff. Returns a stop function.
 *
 * Every tab of the page shares one connection, held by a shared worker
 * (live_worker.js): browsers open at most 6 HTTP/1.1 connections to a host,
 * and with one per tab a seventh tab never loaded. Without SharedWorker
 * (Chrome on Android), or if it fails, the tab holds its own.
 */
export function connectLive({ onEvent, onStatus: tell }) {
  // `info.first`: the stream is live for the first time in this tab. What was published between
  // the page's first read and then never arrived, as after a reconnection: read again.
  let wasLive = false;
  const onStatus = (state, info) => {
    const first = state === "live" && !wasLive;
    if (state === "live") wasLive = true;
    tell(state, first ? { ...info, first } : info);
  };
  const auth = () => headers().authorization ?? null;
  let stopOwn = null;
  const own = () => {
    const live = openLive({ headers, onEvent, onStatus });
    tokenListeners.add(live.wake);
    stopOwn = () => {
      tokenListeners.delete(live.wake);
      live.stop();
    };
  };
  let worker = null;
  try {
    if (typeof SharedWorker === "function") {
      // The name carries the messages' version (live_worker.js).
      worker = new SharedWorker(new URL("./live_worker.js", import.meta.url), {
        type: "module",
        name: "vigil-live-1",
      });
    }
  } catch {
    worker = null;
  }
  if (!worker) {
    own();
    return () => stopOwn();
  }
  const port = worker.port;
  let closed = false;
  port.onmessage = ({ data: m }) => {
    if (closed) return;
    if (m.type === "event") onEvent(m.name, m.data);
    else if (m.type === "status") onStatus(m.state, m.info);
  };
  const open = () => port.postMessage({ type: "open", authorization: auth() });
  const close = () => port.postMessage({ type: "close" });
  const token = () => port.postMessage({ type: "token", authorization: auth() });
  // The worker's script did not load (an older server, a proxy): this tab connects itself.
  worker.onerror = () => {
    if (closed || stopOwn) return;
    closed = true;
    own();
  };
  // Back from the back-forward cache: the worker had been told the tab went.
  const show = (e) => e.persisted && !closed && open();
  tokenListeners.add(token);
  addEventListener("pagehide", close);
  addEventListener("pageshow", show);
  open();
  return () => {
    tokenListeners.delete(token);
    removeEventListener("pagehide", close);
    removeEventListener("pageshow", show);
    if (!closed) close();
    closed = true;
    port.close();
    stopOwn?.();
  };
}
