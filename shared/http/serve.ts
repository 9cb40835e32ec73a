/**
 * Serve a Hono app (anything with `fetch`) with a request-head guard.
 *
 * `Deno.serve` has no header-read timeout (denoland/deno#3515): a client that
 * sends part of a request line keeps its connection, and the server's state
 * for it, forever. So {@link serve} accepts TCP itself (`Deno.listen`) and,
 * per connection:
 *
 * - requires each request head (up to the empty line) within
 *   `headerTimeoutMs`, else answers 408 and closes. The first head's clock
 *   starts at accept; on a keep-alive connection the next head's clock starts
 *   at its first byte, so a connection idle between requests stays open until
 *   the client or the server (e.g. at shutdown) closes it;
 * - requires each request body (when there is one) within `bodyTimeoutMs`
 *   of its head, else answers 408 and closes (a body sent a byte at a time
 *   would hold a request, and the handler waiting for it, forever);
 * - refuses a head over `maxHeaderBytes` (431; 414 while still in the request
 *   line) and framing it cannot follow (400, 505: see `request_framing.ts`);
 * - holds each head until it is complete, then hands the connection to the
 *   real `Deno.serve` server on an ephemeral loopback port: the head, then
 *   every byte both ways, unchanged (bodies and responses, SSE included, are
 *   streamed as they come). Request framing (`Content-Length`, chunked) is
 *   followed on the client-to-server side only, to find the next head.
 *
 * The inner server is only connected to once a complete head arrived, so slow
 * or silent clients cost one socket and a small buffer here, nothing there.
 * It listens on 127.0.0.1 (an ephemeral port): local processes could reach it
 * without the guard (same app, same limits otherwise). The extra hop costs
 * about 65 µs of CPU per request and 15 µs per streamed chunk (docs/api.md,
 * `deno task bench:http`).
 * `headerTimeoutMs: 0` turns the guard off and serves with `Deno.serve`
 * directly (for deployments behind a proxy that enforces these limits).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { type FramingErrorStatus, RequestFramer } from "./request_framing.ts";

/** What {@link serve} serves: a Hono app or any `fetch` handler. */
export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Port to listen on; 0 lets the OS choose. */
  port: number;
  /** @default {"127.0.0.1"} */
  hostname?: string;
  /** Most time to receive a request head; 0 = no guard (plain `Deno.serve`). @default {10000} */
  headerTimeoutMs?: number;
  /** Most time to receive a request body once its head is in; 0 = no limit. @default {30000} */
  bodyTimeoutMs?: number;
  /** Largest request head. @default {32768} */
  maxHeaderBytes?: number;
  log: Logger;
  /** Names the server in its "<label> listening" log line. @default {"http server"} */
  label?: string;
  /** Called once listening, instead of the default log line. */
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** A running server. */
export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting, finish in-flight requests, close every connection. Idempotent. */
  close(): Promise<void>;
}

/** Default most time to receive a request head. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
/** Default most time to receive a request body after its head. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Default largest request head. */
export const DEFAULT_MAX_HEADER_BYTES = 32 * 1024;

// Read buffers are held while a read waits, i.e. for the whole life of an idle or streaming
// (SSE) connection: small by default. Responses read into a buffer that doubles while reads
// fill it (large bodies) and halves back when they do not (streams of small events).
const READ_BYTES = 4 * 1024;
const RESPONSE_READ_MIN_BYTES = 4 * 1024;
const RESPONSE_READ_MAX_BYTES = 64 * 1024;
/** After refusing, how long and how much to read and drop so the client sees the answer. */
const LINGER_MS = 1000;
const LINGER_BYTES = 256 * 1024;

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
      `content-length: ${encoder.encode(body).length}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function checkOptions(
  options: ServeOptions,
): { headerTimeoutMs: number; bodyTimeoutMs: number; maxHeaderBytes: number } {
  const headerTimeoutMs = options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  for (
    const [name, v] of [["headerTimeoutMs", headerTimeoutMs], ["bodyTimeoutMs", bodyTimeoutMs]]
  ) {
    if (!(Number.isFinite(v) && (v as number) >= 0)) {
      throw new RangeError(`Cannot serve: '${name}' must be a number >= 0: current value is ${v}`);
    }
  }
  if (!(Number.isInteger(maxHeaderBytes) && maxHeaderBytes >= 1024)) {
    throw new RangeError(
      `Cannot serve: 'maxHeaderBytes' must be an integer >= 1024: current value is ${maxHeaderBytes}`,
    );
  }
  return { headerTimeoutMs, bodyTimeoutMs, maxHeaderBytes };
}

/**
 * Serve `app` on `options.port` behind the request-head guard (see the
 * module doc).
 *
 * @throws {RangeError} on invalid options
 * @throws {Deno.errors.AddrInUse} when the port is taken
 */
export function serve(app: FetchApp, options: ServeOptions): HttpServer {
  const { headerTimeoutMs, bodyTimeoutMs, maxHeaderBytes } = checkOptions(options);
  const hostname = options.hostname ?? "127.0.0.1";
  const log = options.log;
  const announce = (port: number) => {
    if (options.onListen) options.onListen({ hostname, port });
    else {
      log.info(`${options.label ?? "http server"} listening`, {
        hostname,
        port,
        header_timeout_ms: headerTimeoutMs,
        body_timeout_ms: bodyTimeoutMs,
        max_header_bytes: maxHeaderBytes,
      });
    }
  };
  const handler = (request: Request) => app.fetch(request);

  if (headerTimeoutMs === 0) {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({ hostname, port: options.port, onListen: () => {} }, handler);
    } catch (error) {
      throw listenError(error, hostname, options.port);
    }
    announce(server.addr.port);
    let closing: Promise<void> | undefined;
    return {
      hostname,
      port: server.addr.port,
      close: () => closing ??= server.shutdown(),
    };
  }

  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const innerAddr = { hostname: "127.0.0.1", port: inner.addr.port, transport: "tcp" as const };
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port: options.port });
  } catch (error) {
    inner.shutdown().catch(() => {});
    throw listenError(error, hostname, options.port);
  }
  const port = listener.addr.port;
  const live = new Set<Guarded>();
  let closing: Promise<void> | undefined;

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors and the like: wait a little, keep serving.
        log.warn("cannot accept a connection", { error });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const guarded = new Guarded(conn, {
        headerTimeoutMs,
        bodyTimeoutMs,
        maxHeaderBytes,
        connectInner: () => Deno.connect(innerAddr),
        log,
        onClosed: (g) => live.delete(g),
      });
      live.add(guarded);
      guarded.run();
    }
  })();
  announce(port);

  return {
    hostname,
    port,
    close() {
      closing ??= (async () => {
        listener.close();
        await accepting;
        // Connections without a request in progress go now; the others when their response is done.
        for (const g of live) if (!g.hasUpstream) g.close();
        await inner.shutdown();
        for (const g of live) g.close();
      })();
      return closing;
    },
  };
}

interface GuardOptions {
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  maxHeaderBytes: number;
  connectInner: () => Promise<Deno.TcpConn>;
  log: Logger;
  onClosed: (g: Guarded) => void;
}

/** One client connection behind the guard. */
class Guarded {
  readonly #conn: Deno.TcpConn;
  readonly #options: GuardOptions;
  readonly #framer: RequestFramer;
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
        await writeAll(this.#conn, buf.subarray(0, n));
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

/** A listen failure that says which address and what to do when it is taken. */
function listenError(error: unknown, hostname: string, port: number): Error {
  if (error instanceof Deno.errors.AddrInUse) {
    return new Error(
      `${hostname}:${port} is already in use (another instance running?): stop it or set this service's port variable`,
      { cause: error },
    );
  }
  return error as Error;
}
