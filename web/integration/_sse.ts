/**
 * Test helpers: a minimal server-sent events reader over a fetch response, and waits for
 * what a live update changes.
 *
 * @module
 */
import assert from "node:assert/strict";

/** One parsed event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Reads events from a `text/event-stream` body, one at a time. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #events: SseEvent[] = [];

  constructor(body: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event of name `event` (others are skipped), or throws after `timeoutMs`. */
  async next(event: string, timeoutMs = 10_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const i = this.#events.findIndex((e) => e.event === event);
      if (i >= 0) return this.#events.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Cannot read SSE: no "${event}" event within ${timeoutMs} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), left))),
      ]);
      clearTimeout(timer);
      if (chunk === "timeout") continue;
      if (chunk.done) throw new Error(`Cannot read SSE: stream ended before a "${event}" event`);
      this.#buffer += chunk.value;
      let end: number;
      while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let name = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) this.#events.push({ event: name, data: data.join("\n") });
      }
    }
  }

  /** Resolves true when the stream ends within `timeoutMs`. */
  async ended(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 200))),
      ]);
      clearTimeout(timer);
      if (chunk !== "timeout" && chunk.done) return true;
    }
    return false;
  }

  /** Stop reading (closes the connection). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** Poll `check` until it is truthy or `timeoutMs` passes. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Assert that `read()` comes to equal `want` within `timeoutMs` (what a page shows once a loaded
 * machine has applied an update); the assertion's message shows the last value read.
 */
export async function assertEventually<T>(
  read: () => Promise<T>,
  want: T,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const same = async () => JSON.stringify(await read()) === JSON.stringify(want);
  await waitUntil(same, what, timeoutMs).catch(() => {});
  assert.deepEqual(await read(), want, what);
}
