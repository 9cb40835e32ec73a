// Talking to the Vigil web API: JSON requests with the optional bearer token,
// and the live stream (server-sent events read with fetch, so the token can be
// sent as a header) with automatic reconnection.

import { useEffect, useMemo, useRef } from "preact/hooks";
import { loadSetting, saveSetting } from "./settings.js";

const TOKEN_KEY = "vigil.token";

/** The API token saved in this browser (or held for this page), or "". */
export function getToken() {
  return loadSetting(TOKEN_KEY, "");
}

/** Save (or clear with "") the API token. */
export function setToken(token) {
  saveSetting(TOKEN_KEY, token);
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

// Browsers' timers refuse to be called as methods of another object: wrapped.
const browserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

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

/**
 * Keep a live connection to /api/live. Calls onEvent(name, data) for every
 * event and onStatus("connecting" | "live" | "reconnecting", info) on
 * changes; reconnects with capped backoff. Returns a stop function.
 */
export function connectLive({ onEvent, onStatus }) {
  let stopped = false;
  let controller = null;
  let attempt = 0;
  let timer = null;

  const schedule = (reason) => {
    if (stopped) return;
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
    attempt++;
    onStatus("reconnecting", { reason, retryInMs: Math.round(delay) });
    timer = setTimeout(run, delay);
  };

  const run = async () => {
    if (stopped) return;
    controller = new AbortController();
    onStatus(attempt === 0 ? "connecting" : "reconnecting", {});
    let res;
    try {
      res = await fetch("/api/live", {
        headers: headers({ accept: "text/event-stream" }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch {
      return schedule("network error");
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      return schedule(res.status === 401 ? "token required" : `HTTP ${res.status}`);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    // The server sends a heartbeat every few seconds; silence this long means a dead link.
    let watchdog = null;
    const kick = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), 45_000);
    };
    kick();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        kick();
        buffer += value.replaceAll("\r\n", "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = "message";
          const data = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (!data.length) continue;
          let parsed;
          try {
            parsed = JSON.parse(data.join("\n"));
          } catch {
            continue;
          }
          if (name === "hello") {
            onStatus("live", { reconnected: attempt > 0 });
            attempt = 0;
          }
          onEvent(name, parsed);
        }
      }
    } catch {
      // Connection dropped: reconnect below.
    } finally {
      clearTimeout(watchdog);
    }
    schedule("connection closed");
  };

  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
  };
}
