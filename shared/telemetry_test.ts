import assert from "node:assert/strict";
import { trace } from "@opentelemetry/api";
import { runTraced } from "@vigil/tools/testing/otel";
import {
  contextOf,
  isCanonicalTraceparent,
  linksTo,
  serviceTracer,
  traceFields,
  traceparentOf,
  tracer,
  tracingEnabled,
} from "./telemetry.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const tp = (span: string, flags = "01") => `00-${TRACE}-${span}-${flags}`;

Deno.test("isCanonicalTraceparent() accepts only lowercase version-00 values of four fields", () => {
  assert.equal(isCanonicalTraceparent(tp("00f067aa0ba902b7")), true);
  for (
    const bad of [
      "",
      tp("00f067aa0ba902b7").toUpperCase(),
      tp("00f067aa0ba902b7") + "-x",
      `01-${TRACE}-00f067aa0ba902b7-01`,
      `00-${TRACE}-00f067aa0ba902b-01`,
      `00_${TRACE}-00f067aa0ba902b7-01`,
      `00-${TRACE.replace("4", "g")}-00f067aa0ba902b7-01`,
    ]
  ) assert.equal(isCanonicalTraceparent(bad), false, bad);
});

Deno.test("without OTEL_DENO the API is a no-op: no tracer, no context, no traceparent", () => {
  assert.equal(tracingEnabled(), false);
  assert.equal(serviceTracer(), undefined);
  assert.equal(trace.getSpanContext(contextOf(tp("00f067aa0ba902b7"))), undefined);
  const span = tracer.startSpan("x");
  assert.equal(span.isRecording(), false);
  assert.equal(traceparentOf(span), undefined);
  assert.deepEqual(traceFields(span), {});
});

Deno.test("linksTo() links the valid sampled contexts only", () => {
  const links = linksTo([
    tp("00f067aa0ba902b7"),
    tp("00f067aa0ba902b8", "00"), // unsampled: its span was not recorded
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    tp("0".repeat(16)),
    "nonsense",
    "",
    undefined,
  ]);
  assert.deepEqual(links.map((l) => l.context), [
    { traceId: TRACE, spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true },
  ]);
});

Deno.test("traceFields() gives trace and span ids of a traceparent, or nothing", () => {
  assert.deepEqual(traceFields(tp("00f067aa0ba902b7")), {
    trace_id: TRACE,
    span_id: "00f067aa0ba902b7",
  });
  assert.deepEqual(traceFields("nonsense"), {});
  assert.deepEqual(traceFields(undefined), {});
});

Deno.test("with OTEL_DENO=true the helpers continue, link and inject W3C contexts", async () => {
  const { stdout, spans } = await runTraced(`
    import { SpanKind } from "@opentelemetry/api";
    import {
      contextOf, failSpan, injectContext, startBatchSpan, traceFields, traceparentOf, tracer,
      tracingEnabled,
    } from "@vigil/shared/telemetry";
    const parent = "${tp("00f067aa0ba902b7")}";
    const child = tracer.startSpan("child", { kind: SpanKind.PRODUCER }, contextOf(parent));
    const carrier: Record<string, string> = {};
    injectContext(child, carrier);
    failSpan(child, new Error("Cannot connect to redis://user:s3cret@db:6379")).end();
    const batch = startBatchSpan(tracer, "batch", [
      carrier.traceparent,
      "${tp("00f067aa0ba902b8", "00")}",
      "01-${TRACE}-00f067aa0ba902b9-01-later",
      "nonsense",
    ], { kind: SpanKind.CONSUMER, startTime: Date.now() - 1000 });
    batch.end();
    console.log(JSON.stringify({
      enabled: tracingEnabled(),
      carrier,
      traceparent: traceparentOf(child),
      fields: traceFields(child),
    }));
  `);
  const out = JSON.parse(stdout);
  assert.equal(out.enabled, true);
  const child = spans.find((s) => s.name === "child")!;
  const batch = spans.find((s) => s.name === "batch")!;
  assert.deepEqual([child.traceId, child.parentSpanId, child.kind], [TRACE, "00f067aa0ba902b7", 4]);
  // The propagator writes the child's own context; traceparentOf() agrees.
  assert.equal(out.carrier.traceparent, tp(child.spanId));
  assert.equal(out.traceparent, tp(child.spanId));
  assert.deepEqual(out.fields, { trace_id: TRACE, span_id: child.spanId });
  assert.equal(child.status.code, 2, "failed");
  assert.match(child.status.message, /^Cannot connect to redis:/);
  assert.doesNotMatch(child.status.message, /s3cret/, "redacted");
  // A batch span is a root linked to the sampled contexts (a later version through the
  // propagator), not to unsampled or invalid ones.
  assert.equal(batch.parentSpanId, undefined);
  assert.notEqual(batch.traceId, TRACE);
  assert.equal(batch.kind, 5);
  assert.deepEqual(batch.links, [
    { traceId: TRACE, spanId: child.spanId },
    { traceId: TRACE, spanId: "00f067aa0ba902b9" },
  ]);
  assert.deepEqual(spans.map((s) => s.name).sort(), ["batch", "child"]);
});
