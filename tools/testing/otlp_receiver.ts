/**
 * A minimal OTLP/HTTP trace receiver (`POST /v1/traces`, JSON or protobuf
 * bodies), for tests and local benchmarks: it decodes every export request,
 * keeps the spans (or only counts them) and answers `{}` like a collector.
 *
 * Run alone (prints a count of spans per service every 5 s, and on Ctrl-C):
 *
 * ```sh
 * deno run --allow-net tools/testing/otlp_receiver.ts --port=4318 [--keep | --discard]
 * ```
 *
 * `--discard` reads each request body without parsing it (counts requests
 * and bytes only): for benchmarks, so the receiver competes as little as
 * possible for the CPU with the process being measured. It is a bare
 * HTTP/1.1 loop over TCP (keep-alive, `content-length` bodies, 404 for
 * another path, 411 without a length): reading bodies through `Deno.serve`
 * cost about 0.27 µs of CPU per exported span, a few per cent of the
 * bridge benchmark's two cores.
 *
 * @module
 */
import { type DecodedSpan, decodeExportRequest } from "@vigil/shared/otlp_proto";

/** One received span (OTLP JSON shape), flattened with its service name. */
export type ReceivedSpan = DecodedSpan;

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: Omit<ReceivedSpan, "service">[] }[];
  }[];
}

/** The spans of an OTLP JSON export request; throws when it is not one. */
function fromJson(body: ExportRequest): ReceivedSpan[] {
  if (!Array.isArray(body?.resourceSpans)) throw new TypeError("no resourceSpans");
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans) {
    const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value
      .stringValue ?? "unknown";
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) out.push({ service, ...s });
    }
  }
  return out;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** Base URL to use as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  readonly port: number;
  /** Spans kept so far (empty when `keep` is false). */
  spans(): ReceivedSpan[];
  /** Spans received, per service (with `discard`: `requests` and `bytes`). */
  counts(): Record<string, number>;
  /** Export requests that were not valid OTLP (JSON or protobuf). */
  readonly rejected: number;
  close(): Promise<void>;
}

const ascii = new TextEncoder();
const response = (status: string, close = false) =>
  ascii.encode(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n` +
      (close ? "connection: close\r\n" : "") + "\r\n{}",
  );
const OK = response("200 OK");
const NOT_FOUND = response("404 Not Found");
const LENGTH_REQUIRED = response("411 Length Required", true);
const TOO_LARGE = response("431 Request Header Fields Too Large", true);

/** Index of the first CRLF CRLF in `b[0..end)`, or -1. */
function headerEnd(b: Uint8Array, end: number): number {
  for (let i = 3; i < end; i++) {
    if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i - 3;
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** The `--discard` server: reads and drops request bodies, answers `{}`. */
function serveDiscard(port: number, counts: Record<string, number>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const latin1 = new TextDecoder("latin1");
  async function handle(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(256 * 1024);
    let have = 0;
    try {
      for (;;) {
        let end: number;
        while ((end = headerEnd(buf, have)) < 0) {
          if (have === buf.length) return await writeAll(conn, TOO_LARGE);
          const n = await conn.read(buf.subarray(have));
          if (n === null) return;
          have += n;
        }
        const head = latin1.decode(buf.subarray(0, end));
        const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
        if (!length) return await writeAll(conn, LENGTH_REQUIRED);
        let remaining = Number(length[1]);
        const bodyStart = end + 4;
        if (have - bodyStart >= remaining) {
          // Body in the buffer: keep what follows it (the next request's start).
          buf.copyWithin(0, bodyStart + remaining, have);
          have -= bodyStart + remaining;
        } else {
          remaining -= have - bodyStart;
          have = 0;
          while (remaining > 0) {
            const n = await conn.read(buf.subarray(0, Math.min(buf.length, remaining)));
            if (n === null) return;
            remaining -= n;
          }
        }
        if (!head.startsWith("POST /v1/traces ")) {
          await writeAll(conn, NOT_FOUND);
          continue;
        }
        counts["requests"] = (counts["requests"] ?? 0) + 1;
        counts["bytes"] = (counts["bytes"] ?? 0) + Number(length[1]);
        await writeAll(conn, OK);
      }
    } catch {
      // The client went away or the server closes: nothing to answer.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        void handle(conn);
      }
    } catch { /* listener closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}

/** Start a receiver on 127.0.0.1 (`port` 0 = any free port). */
export function startOtlpReceiver(
  options: { port?: number; keep?: boolean; discard?: boolean } = {},
): OtlpReceiver {
  const keep = options.keep ?? true;
  const kept: ReceivedSpan[] = [];
  const counts: Record<string, number> = {};
  let rejected = 0;
  if (options.discard) {
    const server = serveDiscard(options.port ?? 0, counts);
    return {
      endpoint: `http://127.0.0.1:${server.port}`,
      port: server.port,
      spans: () => [],
      counts: () => ({ ...counts }),
      rejected: 0,
      close: () => server.close(),
    };
  }
  const server = Deno.serve(
    { port: options.port ?? 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/traces") {
        await req.body?.cancel();
        return new Response("not found", { status: 404 });
      }
      let received: ReceivedSpan[];
      try {
        received = (req.headers.get("content-type") ?? "").includes("protobuf")
          ? decodeExportRequest(new Uint8Array(await req.arrayBuffer()))
          : fromJson(await req.json() as ExportRequest);
      } catch {
        rejected++;
        return new Response("bad request", { status: 400 });
      }
      for (const span of received) {
        counts[span.service] = (counts[span.service] ?? 0) + 1;
        if (keep) kept.push(span);
      }
      return Response.json({});
    },
  );
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    spans: () => [...kept],
    counts: () => ({ ...counts }),
    get rejected() {
      return rejected;
    },
    close: () => server.shutdown(),
  };
}

if (import.meta.main) {
  const args = Object.fromEntries(
    Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string | undefined]),
  );
  const receiver = startOtlpReceiver({
    port: Number(args.port ?? 4318),
    keep: "keep" in args,
    discard: "discard" in args,
  });
  const encoder = new TextEncoder();
  const report = () =>
    Deno.stdout.writeSync(encoder.encode(
      JSON.stringify({ endpoint: receiver.endpoint, spans: receiver.counts() }) + "\n",
    ));
  report();
  const timer = setInterval(report, 5000);
  Deno.addSignalListener("SIGINT", async () => {
    clearInterval(timer);
    report();
    await receiver.close();
    Deno.exit(0);
  });
}
