/**
 * Test support for tracing: a receiver of the spans Deno's built-in
 * OpenTelemetry exports (OTLP/HTTP, http/json), and the environment that
 * turns it on in a subprocess.
 *
 * @module
 */

/** One exported span, flattened with the service that exported it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Undefined for a root. */
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  links: { traceId: string; spanId: string }[];
  attributes: Record<string, unknown>;
  /** OTLP status: code 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

/** A running {@link startSpanReceiver}. */
export interface SpanReceiver {
  /** Base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** Spans received so far. */
  spans(): ReceivedSpan[];
  /** Export requests that were not OTLP JSON. */
  rejected(): number;
  close(): Promise<void>;
}

/** An OTLP/HTTP receiver of JSON trace exports (`POST /v1/traces`); other signals get 404. */
export function startSpanReceiver(): SpanReceiver {
  const spans: ReceivedSpan[] = [];
  let rejected = 0;
  const values = (attributes: OtlpAttribute[] = []) =>
    Object.fromEntries(attributes.map((a) => [a.key, Object.values(a.value)[0]]));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (new URL(req.url).pathname !== "/v1/traces") {
      await req.body?.cancel();
      return new Response(null, { status: 404 });
    }
    try {
      const body = await req.json();
      for (const rs of body.resourceSpans) {
        const service = String(values(rs.resource.attributes)["service.name"]);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              service,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || undefined,
              name: s.name,
              kind: s.kind,
              links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
                traceId: l.traceId,
                spanId: l.spanId,
              })),
              attributes: values(s.attributes),
              status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
            });
          }
        }
      }
      return Response.json({});
    } catch {
      rejected++;
      return Response.json({ error: "not an OTLP JSON export" }, { status: 400 });
    }
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans: () => spans,
    rejected: () => rejected,
    close: () => server.shutdown(),
  };
}

/**
 * The environment that turns a Deno process's OpenTelemetry on, exporting
 * as `service` to `endpoint` in OTLP http/json, at most 200 ms after a span ends.
 */
export function tracingEnv(service: string, endpoint: string): Record<string, string> {
  return {
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: service,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "200",
  };
}

/** Repository root (the workspace `deno eval` runs in). */
const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Run TypeScript `code` with `deno eval` in the workspace (imports such as
 * `@vigil/shared/telemetry` resolve), with Deno's OpenTelemetry on, and
 * collect what it prints and the spans it exported (Deno exports the rest at
 * exit).
 *
 * @throws {Error} when the code fails
 */
export async function runTraced(
  code: string,
  service = "test",
): Promise<{ stdout: string; spans: ReceivedSpan[] }> {
  const receiver = startSpanReceiver();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", code],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...tracingEnv(service, receiver.endpoint) },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`Cannot run traced code: ${new TextDecoder().decode(out.stderr)}${stdout}`);
    }
    return { stdout, spans: [...receiver.spans()] };
  } finally {
    await receiver.close();
  }
}
