/**
 * Bench helper: one live (server-sent events) client that notes when each
 * alert reached it, for the fan-out figures of `web_bench.ts` and
 * `http_guard_bench.ts`.
 *
 * @module
 */

/** Options of {@link followLive}. */
export interface FollowLiveOptions {
  signal: AbortSignal;
  /** Finds the alert id in an `alert` event's block (`event: alert\ndata: …`) as group 1. */
  alertId: RegExp;
  /** Called with each alert's id and arrival time (`performance.now()`). */
  onAlert(id: string, at: number): void;
}

/**
 * Open the event stream at `url` and read it in the background; resolves
 * once its `hello` event arrived. The reading stops when `signal` aborts.
 */
export async function followLive(url: string, options: FollowLiveOptions): Promise<void> {
  const res = await fetch(url, { signal: options.signal });
  if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let hello: (() => void) | undefined;
  const greeted = new Promise<void>((r) => (hello = r));
  (async () => {
    let buf = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      const at = performance.now();
      buf += value;
      let end: number;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (block.startsWith("event: hello")) hello?.();
        const m = options.alertId.exec(block);
        if (m) options.onAlert(m[1]!, at);
      }
    }
  })().catch(() => {});
  await greeted;
}
