// The live stream, /api/live: server-sent events read with fetch (so the token can be sent as a
// header), with reconnection. It runs in the page's shared worker (live_worker.js), one
// connection for every tab of the page, or in the page itself where there is no SharedWorker.
// No imports: a worker has no import map.

/** The server sends a heartbeat every few seconds (at most 30): silence this long is a dead link. */
export const SILENCE_MS = 45_000;

/**
 * The browser's clock and timers, for code that takes a clock (a test passes its own). Browsers'
 * timers refuse to be called as methods of another object: wrapped.
 */
export const browserClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (id) => clearInterval(id),
};

/**
 * Keep a live connection to /api/live. Calls onEvent(name, data) for every event and
 * onStatus("connecting" | "live" | "reconnecting", info) on changes; reconnects with capped
 * backoff. `headers()` gives each attempt's request headers (the token saved meanwhile).
 * Returns `stop()`, and `wake()` to try again at once while waiting to (a token was saved).
 *
 * A link is dead after {@link SILENCE_MS} without a byte, by the wall clock, checked every few
 * seconds: a computer waking from sleep sees it at once (a timer set before the sleep fired up to
 * 45 s after the wake, the page showing "Live" meanwhile). The network back (`online`) reconnects.
 *
 * @param {{ headers: () => Record<string, string>,
 *   onEvent: (name: string, data: unknown) => void,
 *   onStatus: (state: string, info: Record<string, unknown>) => void,
 *   fetch?: typeof fetch,
 *   clock?: { now(): number, setInterval(fn: () => void, ms: number): unknown,
 *     clearInterval(id: unknown): void } }} options
 */
export function openLive(
  { headers, onEvent, onStatus, fetch = globalThis.fetch.bind(globalThis), clock = browserClock },
) {
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
    timer = null;
    if (stopped) return;
    controller = new AbortController();
    onStatus(attempt === 0 ? "connecting" : "reconnecting", {});
    let res;
    try {
      res = await fetch("/api/live", {
        headers: { ...headers(), accept: "text/event-stream" },
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
    let heard = clock.now();
    const watchdog = clock.setInterval(() => {
      if (clock.now() - heard > SILENCE_MS) controller.abort();
    }, 5000);
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        heard = clock.now();
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
      clock.clearInterval(watchdog);
    }
    schedule("connection closed");
  };

  // The network is back: the connection held through its loss is surely dead.
  const online = () => (timer === null ? controller?.abort() : wake());
  globalThis.addEventListener?.("online", online);
  const wake = () => {
    if (stopped || timer === null) return;
    clearTimeout(timer);
    run();
  };
  run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
      globalThis.removeEventListener?.("online", online);
    },
    wake,
  };
}
