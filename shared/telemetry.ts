/**
 * Tracing on OpenTelemetry: the services make spans with
 * `@opentelemetry/api`; Deno's built-in OpenTelemetry records and exports
 * them (`OTEL_DENO=true` plus the standard `OTEL_EXPORTER_OTLP_*`,
 * `OTEL_SERVICE_NAME` and `OTEL_TRACES_SAMPLER*` variables, read by the
 * runtime). Without `OTEL_DENO` the API is a no-op, {@link tracingEnabled}
 * is false and the services make no span at all.
 *
 * A W3C `traceparent` travels with each event: the producer writes its
 * `send` span's context into the Kafka header, the bridge copies the header
 * unchanged into the stream entry (the message's creation context), and the
 * consumers of batches (bridge, detector) link their batch span to each
 * message's context, as the OpenTelemetry messaging conventions have it. This
 * module holds the few helpers that glue the API to those fields.
 *
 * @module
 */
import {
  type Context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanOptions,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from "@opentelemetry/api";
import { errorMessage, type LogFields, redact } from "./log.ts";

export type { Span, Tracer };

/** Vigil's tracer (instrumentation scope `vigil`). */
export const tracer: Tracer = trace.getTracer("vigil", "0.1.0");

let enabled: boolean | undefined;

/**
 * Whether spans are recorded: an OpenTelemetry SDK is registered behind the
 * API (Deno's, when the process started with `OTEL_DENO=true`). Probed once
 * with a span that is never ended, so never exported.
 */
export function tracingEnabled(): boolean {
  return enabled ??= tracer.startSpan("vigil.probe").isRecording();
}

/** The tracer to hand to a service's components, or `undefined` when tracing is off. */
export function serviceTracer(): Tracer | undefined {
  return tracingEnabled() ? tracer : undefined;
}

const IS_HEX = new Uint8Array(128);
for (const c of "0123456789abcdef") IS_HEX[c.charCodeAt(0)] = 1;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * Whether `value` is a version-00 traceparent in canonical form (lowercase
 * hex, four fields): `00-<32 hex>-<16 hex>-<2 hex>`. A loop over a lookup
 * table, about three times faster than the equivalent regex: it runs on every
 * message of the bridge and every entry of the detector.
 */
export function isCanonicalTraceparent(value: string): boolean {
  if (
    value.length !== 55 || value.charCodeAt(0) !== 48 || value.charCodeAt(1) !== 48 ||
    value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45
  ) return false;
  for (let i = 3; i < 35; i++) if (IS_HEX[value.charCodeAt(i)] !== 1) return false;
  for (let i = 36; i < 52; i++) if (IS_HEX[value.charCodeAt(i)] !== 1) return false;
  return IS_HEX[value.charCodeAt(53)] === 1 && IS_HEX[value.charCodeAt(54)] === 1;
}

/**
 * A context whose (remote) parent is `traceparent`, through the registered
 * W3C propagator: pass it as the parent of a span that continues the trace.
 * The root context when the value is missing or invalid, or tracing is off.
 */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/**
 * The span context in `traceparent`, for a link. Canonical values are read
 * directly (the propagator's `extract` costs about 1.8 µs, a quarter of what
 * the bridge spends per message); others go through the propagator.
 */
function spanContextOf(traceparent: string): SpanContext | undefined {
  if (isCanonicalTraceparent(traceparent)) {
    const traceId = traceparent.slice(3, 35);
    const spanId = traceparent.slice(36, 52);
    if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
    const flags = traceparent.charCodeAt(54) & 1 ? TraceFlags.SAMPLED : TraceFlags.NONE;
    return { traceId, spanId, traceFlags: flags, isRemote: true };
  }
  return trace.getSpanContext(contextOf(traceparent));
}

/**
 * Links to the sampled contexts among `traceparents` (messages' creation
 * contexts). Unsampled ones are skipped: their spans were not recorded, so a
 * link would lead nowhere. Missing and invalid values are skipped too.
 */
export function linksTo(traceparents: Iterable<string | null | undefined>): Link[] {
  const links: Link[] = [];
  for (const tp of traceparents) {
    if (!tp) continue;
    const context = spanContextOf(tp);
    if (context && context.traceFlags & TraceFlags.SAMPLED) links.push({ context });
  }
  return links;
}

/**
 * Start the span of a batch of messages (a root: the messages may belong to
 * many traces), linked to each message's sampled creation context. The links
 * are added only when the span itself is sampled (an unsampled span is not
 * exported, and a link costs 1.2–1.9 µs of CPU with Deno 2.9.6's exporter).
 * A numeric `options.startTime` is in ms since the epoch: Deno reads any
 * number so (a `performance.now()` value would be a time in 1970, and a
 * negative one makes the runtime panic).
 */
export function startBatchSpan(
  tracer: Tracer,
  name: string,
  traceparents: Iterable<string | null | undefined>,
  options: SpanOptions = {},
): Span {
  const span = tracer.startSpan(name, options, ROOT_CONTEXT);
  if (span.spanContext().traceFlags & TraceFlags.SAMPLED) {
    const links = linksTo(traceparents);
    if (links.length > 0) span.addLinks(links);
  }
  return span;
}

/**
 * Write `span`'s context into `carrier` (a Kafka headers object, a stream
 * entry's fields as an object) through the registered W3C propagator: a
 * `traceparent` (and `tracestate` when there is one). Nothing is written
 * when tracing is off.
 */
export function injectContext(span: Span, carrier: Record<string, string>): void {
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
}

/** `span`'s W3C traceparent, or `undefined` when it has no valid context (tracing off). */
export function traceparentOf(span: Span): string | undefined {
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
}

/** Mark `span` failed: status ERROR with the error's message, redacted and bounded. */
export function failSpan(span: Span, error: unknown): Span {
  return span.setStatus({
    code: SpanStatusCode.ERROR,
    message: String(redact(errorMessage(error))).slice(0, 1024),
  });
}

/**
 * Log fields of a traced context (`{ trace_id, span_id }`) from a span or a
 * traceparent, or `{}` when there is none: `log.with(traceFields(span))`.
 */
export function traceFields(source: Span | string | null | undefined): LogFields {
  if (!source) return {};
  const sc = typeof source === "string" ? spanContextOf(source) : source.spanContext();
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
