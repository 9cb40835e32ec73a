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
 *   followed to find the next head, response framing to tell which request
 *   each answer is for (`response_framing.ts`; `100 Continue` answers none);
 * - closes the connection once it passed on the answer to a request whose
 *   body has not all arrived (a 413 by `Content-Length`, a 401 before
 *   reading), with `Connection: close` and a short linger: Deno's server
 *   would read and drop the rest of that body, however long.
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
import { Guarded } from "./guarded_conn.ts";

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
  /** The settings that chose the port and host, named when it cannot listen. */
  settings?: { port: string; host?: string };
  /** Called once listening, instead of the default log line. */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /**
   * Told of each request the guard answers before the app sees it (408, 414, 431, 400, 505, 503):
   * for the app's request counter. Not of a request whose body it refuses (408 past
   * `bodyTimeoutMs`, a malformed chunk): the app has it and answers it when its body fails; nor
   * of a connection closed at its head timeout without a byte sent (a browser's preconnect).
   */
  onRefused?: (status: number) => void;
}

/** A running server. */
export interface HttpServer {
  readonly hostname: string;
  readonly port: number;
  /** Stop accepting, finish in-flight requests, close every connection. Idempotent. */
  close(): Promise<void>;
}

function checkOptions(
  options: ServeOptions,
): { headerTimeoutMs: number; bodyTimeoutMs: number; maxHeaderBytes: number } {
  const { headerTimeoutMs = 10_000, bodyTimeoutMs = 30_000, maxHeaderBytes = 32 * 1024 } = options;
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
      throw listenError(error, hostname, options);
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
    throw listenError(error, hostname, options);
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
        ...(options.onRefused ? { onRefused: options.onRefused } : {}),
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

/** A listen failure that says which address and what to do when it is taken. */
function listenError(error: unknown, hostname: string, options: ServeOptions): Error {
  const where = `${hostname}:${options.port}`;
  const port = options.settings?.port ?? "this service's port variable";
  if (error instanceof Deno.errors.AddrInUse) {
    return new Error(
      `${where} is already in use (another instance running?): stop it or set ${port}`,
      { cause: error },
    );
  }
  // A host that does not resolve or is not this machine's, a port below 1024 without the right.
  return new Error(
    `cannot listen on ${where}: ${(error as Error).message}; check ${
      options.settings?.host ?? "HTTP_HOST"
    } and ${port}`,
    { cause: error },
  );
}
