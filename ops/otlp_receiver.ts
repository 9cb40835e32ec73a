/**
 * A minimal OTLP/HTTP trace receiver (`POST /v1/traces`, JSON or protobuf
 * bodies), for tests and local benchmarks: it decodes every export request,
 * keeps the spans (or only counts them) and answers `{}` like a collector.
 *
 * Run alone (prints a count of spans per service every 5 s, and on Ctrl-C):
 *
 * ```sh
 * deno run --allow-net ops/otlp_receiver.ts --port=4318 [--keep | --discard]
 * ```
 *
 * `--discard` reads each request body without parsing it (counts requests
 * and bytes only): for benchmarks, so the receiver's own JSON parsing does
 * not compete for the CPU with the process being measured.
 *
 * @module
 */
import { type DecodedSpan, decodeExportRequest } from "../shared/otlp_proto.ts";

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

/** Start a receiver on 127.0.0.1 (`port` 0 = any free port). */
export function startOtlpReceiver(
  options: { port?: number; keep?: boolean; discard?: boolean } = {},
): OtlpReceiver {
  const keep = options.keep ?? true;
  const kept: ReceivedSpan[] = [];
  const counts: Record<string, number> = {};
  let rejected = 0;
  const server = Deno.serve(
    { port: options.port ?? 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method !== "POST" || url.pathname !== "/v1/traces") {
        await req.body?.cancel();
        return new Response("not found", { status: 404 });
      }
      if (options.discard) {
        const bytes = (await req.arrayBuffer()).byteLength;
        counts["requests"] = (counts["requests"] ?? 0) + 1;
        counts["bytes"] = (counts["bytes"] ?? 0) + bytes;
        return Response.json({});
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
