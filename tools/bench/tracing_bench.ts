/**
 * Cost of tracing on a hot path: `deno bench --allow-net shared/tracing_bench.ts`.
 */
import { silentLogger } from "@vigil/shared/log";
import { createTracer, type Tracer } from "@vigil/shared/tracing";

const PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const off = createTracer({ service: "bench", log: silentLogger() });
const on = createTracer({
  service: "bench",
  endpoint: "http://127.0.0.1:9",
  log: silentLogger(),
  maxQueue: 1_000_000_000,
  maxBatch: 1_000_000_000,
  flushIntervalMs: 3_600_000,
  fetch: () => Promise.resolve(new Response("{}")),
});

Deno.bench("no-op tracer: child span of a traceparent + end", { group: "span" }, () => {
  off.startSpan("detect", { parent: PARENT }).end();
});
Deno.bench("no-op tracer: new root span + end", { group: "span" }, () => {
  off.startSpan("produce").end();
});
Deno.bench("recording tracer: child span + attribute + end (queued)", { group: "span" }, () => {
  on.startSpan("detect", { parent: PARENT, attributes: { type: "logs" } }).end();
});

const encoder = new TextEncoder();
/** A recording tracer that encodes every batch to bytes like a real export, without the network. */
function exportingTracer(protocol: "http/protobuf" | "http/json"): Tracer {
  return createTracer({
    service: "bench",
    endpoint: "http://127.0.0.1:9",
    log: silentLogger(),
    protocol,
    fetch: (_url, init) => {
      const body = init?.body as string | Uint8Array;
      void (typeof body === "string" ? encoder.encode(body) : body).length;
      return Promise.resolve(new Response("{}"));
    },
  });
}

let offset = 0;
for (const protocol of ["http/protobuf", "http/json"] as const) {
  const exporting = exportingTracer(protocol);
  Deno.bench(`recording tracer: bridge span (2 attributes), exported as ${protocol}`, {
    group: "export",
  }, async () => {
    const span = exporting.startSpan("bridge logs", {
      kind: "consumer",
      parent: PARENT,
      attributes: {
        "messaging.kafka.partition": 3,
        "messaging.kafka.offset": String(offset++),
      },
    });
    span.end();
    if (exporting.stats().queued >= 512) await exporting.flush();
  });
}

// The bridge's way: one group per consumed batch of 500 messages (per iteration: 500 spans).
const parents = Array.from({ length: 500 }, () => PARENT);
const offsets = Array.from({ length: 500 }, (_, i) => 1_000_000 + i);
for (const protocol of ["http/protobuf", "http/json"] as const) {
  const exporting = exportingTracer(protocol);
  Deno.bench(`span group of 500 bridge spans, exported as ${protocol}`, {
    group: "export 500",
  }, async () => {
    exporting.startSpanGroup("bridge logs", parents, {
      kind: "consumer",
      attributes: { "messaging.kafka.partition": 3 },
      perSpan: { key: "messaging.kafka.offset", values: offsets },
      propagate: "parent",
    }).end();
    await exporting.flush();
  });
}
const oneByOne = exportingTracer("http/protobuf");
Deno.bench("500 bridge spans one by one (startSpan), exported as http/protobuf", {
  group: "export 500",
  baseline: true,
}, async () => {
  for (let i = 0; i < 500; i++) {
    oneByOne.startSpan("bridge logs", {
      kind: "consumer",
      parent: PARENT,
      attributes: { "messaging.kafka.partition": 3, "messaging.kafka.offset": offsets[i]! },
    }).end();
  }
  await oneByOne.flush();
});
