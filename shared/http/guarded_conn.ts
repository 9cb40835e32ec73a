/**
 * One client connection behind the request-head guard of `serve.ts`: reads
 * request heads (and follows request framing) with their timeouts and size
 * limit, refuses what it cannot accept with an answer and a linger, and
 * otherwise pipes the connection to the inner `Deno.serve` server both ways.
 * The module doc of `serve.ts` describes the behaviour.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type FramingErrorStatus, RequestFramer } from "./request_framing.ts";
import { ResponseFramer, withClose } from "./response_framing.ts";

// Read buffers are held while a read waits, i.e. for the whole life of an idle or streaming
// (SSE) connection: small by default. Responses read into a buffer that doubles while reads
// fill it (large bodies) and halves back when they do not (streams of small events).
const READ_BYTES = 4 * 1024;
const RESPONSE_READ_MIN_BYTES = 4 * 1024;
const RESPONSE_READ_MAX_BYTES = 64 * 1024;
/**
 * After refusing, how long and how much to read and drop so the client sees the answer: closed
 * with its body unread, the client gets a reset that may drop the answer (fetch of a 1 MB POST to
 * /health, 413: "fetch failed" under load with 256 KiB).
 */
const LINGER_MS = 1000;
const LINGER_BYTES = 8 * 1024 * 1024;

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();

function refusal(status: number, message: string): Uint8Array {
  const body = JSON.stringify({ error: `Cannot read request: ${message}` });
  return encoder.encode(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: application/json\r\n` +
      `x-content-type-options: nosniff\r\n` +
      `content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n` +
      `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** `pieces` as one array: a part of `chunk` when they lie there end to end (no copy). */
function joined(chunk: Uint8Array, pieces: Uint8Array[]): Uint8Array {
  const first = pieces[0]!;
  let end = first.byteOffset + first.length;
  let inChunk = first.buffer === chunk.buffer;
  for (let i = 1; i < pieces.length && inChunk; i++) {
    inChunk = pieces[i]!.buffer === chunk.buffer && pieces[i]!.byteOffset === end;
    end += pieces[i]!.length;
  }
  if (inChunk) return chunk.subarray(first.byteOffset - chunk.byteOffset, end - chunk.byteOffset);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) out.set(p, (at += p.length) - p.length);
  return out;
}

/** Limits and hooks of a {@link Guarded} connection. */
export interface GuardOptions {
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  maxHeaderBytes: number;
  connectInner: () => Promise<Deno.TcpConn>;
  log: Logger;
  onClosed: (g: Guarded) => void;
  /** A request answered here (`serve.ts` `onRefused`). */
  onRefused?: (status: number) => void;
}

/** One client connection behind the guard. */
export class Guarded {
  readonly #conn: Deno.TcpConn;
  readonly #options: GuardOptions;
  readonly #framer: RequestFramer;
  readonly #responses = new ResponseFramer();
  /** The response being passed on answers a request not all received: close after it. */
  #cut = false;
  #upstream: Deno.TcpConn | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** Answer sent (refused, or the inner server closed): read and drop until EOF or linger end. */
  #draining = false;
  #drained = 0;
  #closed = false;

  constructor(conn: Deno.TcpConn, options: GuardOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#framer = new RequestFramer({ maxHeaderBytes: options.maxHeaderBytes });
  }

  get hasUpstream(): boolean {
    return this.#upstream !== undefined;
  }

  async run(): Promise<void> {
    try {
      this.#conn.setNoDelay(true);
    } catch { /* closed already */ }
    this.#arm(); // the first head's clock starts at accept
    const buf = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        if (this.#draining) {
          this.#drained += n;
          if (this.#drained > LINGER_BYTES) break;
          continue;
        }
        let rest = buf.subarray(0, n);
        while (rest.length > 0 && !this.#draining) {
          const startsHead = this.#framer.atBoundary;
          const step = this.#framer.feed(rest);
          const part = rest.subarray(0, step.consumed);
          rest = rest.subarray(step.consumed);
          if (startsHead && this.#timer === undefined) this.#arm();
          if (step.kind === "error") {
            await this.#refuse(step.status, step.message);
          } else if (step.kind === "head") {
            if (!step.complete) continue;
            this.#disarm();
            if (step.head.body.kind !== "none") this.#arm("body");
            this.#responses.expect(step.head.method);
            const upstream = this.#upstream ?? await this.#connect();
            if (!upstream) return;
            await writeAll(upstream, step.head.raw);
          } else {
            if (step.complete) this.#disarm();
            await writeAll(this.#upstream!, part);
          }
        }
      }
      // The client is done sending: let the inner server finish its answers, then close.
      if (this.#upstream && !this.#draining) {
        this.#disarm();
        await this.#upstream.closeWrite().catch(() => this.close());
        return; // #pipeDown closes when the inner server is done
      }
    } catch {
      // A reset or closed socket on either side: nothing to answer.
    }
    this.close();
  }

  async #connect(): Promise<Deno.TcpConn | undefined> {
    try {
      const upstream = await this.#options.connectInner();
      if (this.#closed) {
        upstream.close();
        return undefined;
      }
      upstream.setNoDelay(true);
      this.#upstream = upstream;
      this.#pipeDown(upstream);
      return upstream;
    } catch {
      await this.#refuse(503, "server is shutting down");
      return undefined;
    }
  }

  /** Inner server → client, unchanged, until the inner server closes. */
  async #pipeDown(upstream: Deno.TcpConn): Promise<void> {
    let buf = new Uint8Array(RESPONSE_READ_MIN_BYTES);
    try {
      for (;;) {
        const n = await upstream.read(buf);
        if (n === null) break;
        if (await this.#passDown(buf.subarray(0, n))) break;
        if (n === buf.length && n < RESPONSE_READ_MAX_BYTES) buf = new Uint8Array(n * 2);
        else if (n < buf.length / 4 && buf.length > RESPONSE_READ_MIN_BYTES) {
          buf = new Uint8Array(buf.length / 2);
        }
      }
    } catch {
      this.close();
      return;
    }
    this.#linger();
  }

  /**
   * Pass response bytes on; true once a response that answers a request not all received (a 413
   * by `Content-Length`, a 401 before reading) is: Deno's server would read and drop the rest of
   * that body, however long, so the connection closes then (with a linger), saying so in the head.
   */
  async #passDown(chunk: Uint8Array): Promise<boolean> {
    // One write per read, as before the framing: a head and its body written apart were two
    // segments (no delay) and ~30 µs more CPU a request (`deno task bench:http`).
    const pieces: Uint8Array[] = [];
    let ends = false;
    for (let bytes = chunk; bytes.length > 0 && !ends;) {
      const step = this.#responses.feed(bytes);
      let out = bytes.subarray(0, step.consumed);
      bytes = bytes.subarray(step.consumed);
      if (step.kind === "head") {
        if (!step.complete) continue;
        out = step.raw;
        if (step.final && this.#responses.awaiting === 0 && !this.#framer.inHead) {
          this.#cut = true;
          out = withClose(out);
        }
      }
      // A head held across reads lives in the framer's buffer until its next call: copied.
      pieces.push(out.buffer === chunk.buffer ? out : out.slice());
      ends = "ends" in step && step.ends && this.#cut;
    }
    if (pieces.length > 0) await writeAll(this.#conn, joined(chunk, pieces));
    return ends;
  }

  /** Start the clock of the request head (or body) coming in. */
  #arm(part: "head" | "body" = "head"): void {
    const ms = part === "head" ? this.#options.headerTimeoutMs : this.#options.bodyTimeoutMs;
    if (ms === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#refuse(408, `request ${part} not received within ${ms} ms`);
    }, ms);
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #refuse(status: FramingErrorStatus | 408 | 503, message: string): Promise<void> {
    if (this.#draining || this.#closed) return;
    this.#options.log.debug("request refused", { status, reason: message });
    // Told only of requests the app never saw: not one whose body this refuses (the framer past
    // its head: the app answers and counts it once the body fails), nor a connection that sent
    // nothing at all (its first head's clock runs from accept: a browser's preconnect made no
    // request).
    if (this.#framer.inHead && !(status === 408 && this.#framer.atBoundary)) {
      this.#options.onRefused?.(status);
    }
    this.#upstream?.close();
    this.#upstream = undefined;
    this.#draining = true;
    try {
      await writeAll(this.#conn, refusal(status, message));
    } catch {
      this.close();
      return;
    }
    this.#linger();
  }

  /** Send FIN, keep reading (and dropping) a little so the client sees the answer, then close. */
  #linger(): void {
    if (this.#closed) return;
    this.#draining = true;
    this.#disarm();
    this.#conn.closeWrite().catch(() => this.close());
    this.#lingerTimer ??= setTimeout(() => this.close(), LINGER_MS);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    clearTimeout(this.#lingerTimer);
    try {
      this.#conn.close();
    } catch { /* closed already */ }
    try {
      this.#upstream?.close();
    } catch { /* closed already */ }
    this.#options.onClosed(this);
  }
}
