import assert from "node:assert/strict";
import { openLive, SILENCE_MS } from "./live.js";

/** A live stream the test writes to. */
function stream() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    body,
    send: (name: string, data: unknown) =>
      controller.enqueue(encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)),
    /** What fetch does to a body when its request is aborted. */
    abort: () => controller.error(new DOMException("aborted", "AbortError")),
  };
}

/** A fetch answering each request with a new {@link stream}, kept in `streams`. */
function server() {
  const streams: ReturnType<typeof stream>[] = [];
  const fetch = (_url: RequestInfo | URL, init?: RequestInit) => {
    const s = stream();
    streams.push(s);
    init!.signal!.addEventListener("abort", s.abort);
    return Promise.resolve(new Response(s.body, { status: 200 }));
  };
  return { streams, fetch };
}

Deno.test("openLive() takes a link silent past SILENCE_MS by the wall clock as dead: a wake from sleep reconnects at once", async () => {
  let now = 1_000_000;
  const ticks = new Set<() => void>();
  const clock = {
    now: () => now,
    setInterval: (fn: () => void) => (ticks.add(fn), fn),
    clearInterval: (fn: unknown) => void ticks.delete(fn as () => void),
  };
  const { streams, fetch } = server();
  const states: string[] = [];
  const events: string[] = [];
  const live = openLive({
    headers: () => ({}),
    onEvent: (name: string) => events.push(name),
    onStatus: (state: string) => states.push(state),
    fetch,
    clock,
  });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  try {
    await settle();
    streams[0]!.send("hello", {});
    await settle();
    assert.deepEqual(states, ["connecting", "live"]);
    // A heartbeat, then 40 s: still alive.
    now += 10_000;
    streams[0]!.send("stats", {});
    await settle();
    now += 40_000;
    for (const tick of ticks) tick();
    await settle();
    assert.equal(streams.length, 1);
    assert.deepEqual(states, ["connecting", "live"]);
    // The computer slept 20 minutes: the first check after the wake ends the link.
    now += 20 * 60_000;
    for (const tick of ticks) tick();
    await settle();
    assert.equal(states.at(-1), "reconnecting");
    assert.ok(SILENCE_MS < 20 * 60_000);
    assert.deepEqual(events, ["hello", "stats"]);
  } finally {
    live.stop();
  }
});

Deno.test("openLive() reconnects at once when the network is back (online)", async () => {
  const { streams, fetch } = server();
  const states: string[] = [];
  const live = openLive({
    headers: () => ({}),
    onEvent: () => {},
    onStatus: (state: string) => states.push(state),
    fetch,
  });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  try {
    await settle();
    streams[0]!.send("hello", {});
    await settle();
    // The link held through a lost network is dead, though nothing said so yet.
    globalThis.dispatchEvent(new Event("online"));
    await settle();
    assert.deepEqual(states, ["connecting", "live", "reconnecting"]);
  } finally {
    live.stop();
  }
});
