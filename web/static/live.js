// The live stream, /api/live: server-sent events read with fetch (so the token can be sent as a
// header), with reconnection. It runs in the page's shared worker (live_worker.js), one
// connection for every tab of the page, or in the page itself where there is no SharedWorker.
// No imports: a worker has no import map.

/**
 * Keep a live connection to /api/live. Calls onEvent(name, data) for every event and
 * onStatus("connecting" | "live" | "reconnecting", info) on changes; reconnects with capped
 * backoff. `headers()` gives each attempt's request headers (the token saved meanwhile).
 * Returns `stop()`, and `wake()` to try again at once while waiting to (a token was saved).
 *
 * @param {{ headers: () => Record<string, string>,
 *   onEvent: (name: string, data: unknown) => void,
 *   onStatus: (state: string, info: Record<string, unknown>) => void }} options
 */
export function openLive({ headers, onEvent, onStatus }) {
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
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
    },
    wake() {
      if (stopped || timer === null) return;
      clearTimeout(timer);
      run();
    },
  };
}
