import assert from "node:assert/strict";
import { createLogger, silentLogger } from "./log.ts";
import { Registry } from "./metrics.ts";
import {
  childOf,
  createTracer,
  formatTraceparent,
  newTraceparent,
  noopTracer,
  parseTraceparent,
  traceFields,
  traceIdOf,
  type Tracer,
  type TracerOptions,
  tracingEnv,
  tracingOptions,
} from "./tracing.ts";
import { parseEnv } from "./config.ts";
import { type DecodedSpan, decodeExportRequest } from "./otlp_proto.ts";
import { z } from "zod";
import { waitFor } from "@vigil/tools/testing/wait";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const VALID = `00-${TRACE}-${SPAN}-01`;

/** What an OTLP span looks like on the wire (JSON shape; protobuf bodies are decoded to it). */
type WireSpan = Omit<DecodedSpan, "service">;

/** An in-process OTLP/HTTP receiver recording every POST to /v1/traces. */
function startReceiver(status = 200) {
  const bodies: unknown[] = [];
  const paths: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    paths.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("content-type")}`);
    if (req.headers.get("content-type") === "application/x-protobuf") {
      // The same shape as the JSON encoding, from the protobuf body.
      const decoded = decodeExportRequest(new Uint8Array(await req.arrayBuffer()));
      const service = decoded[0]?.service ?? "unknown";
      bodies.push({
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
          scopeSpans: [{ spans: decoded.map(({ service: _, ...span }) => span) }],
        }],
      });
    } else bodies.push(await req.json());
    return new Response(status === 200 ? "{}" : "nope", { status });
  });
  const spans = (): WireSpan[] =>
    bodies.flatMap((b) =>
      (b as { resourceSpans: { scopeSpans: { spans: WireSpan[] }[] }[] }).resourceSpans
        .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
    );
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    bodies,
    paths,
    spans,
    close: () => server.shutdown(),
  };
}

/** Run `fn` with a receiver and a tracer (service "bridge") exporting to it; closes both. */
async function withTracer(
  options: Omit<TracerOptions, "service" | "endpoint" | "log">,
  fn: (tracer: Tracer, receiver: ReturnType<typeof startReceiver>) => Promise<void>,
): Promise<void> {
  const receiver = startReceiver();
  const tracer = createTracer({
    service: "bridge",
    endpoint: receiver.endpoint,
    log: silentLogger(),
    ...options,
  });
  try {
    await fn(tracer, receiver);
  } finally {
    await tracer.close();
    await receiver.close();
  }
}

Deno.test("parseTraceparent() follows the W3C rules", async (t) => {
  const cases: [string, string | undefined, boolean | undefined][] = [
    ["valid, sampled", VALID, true],
    ["valid, not sampled", `00-${TRACE}-${SPAN}-00`, false],
    ["other flag bits ignored", `00-${TRACE}-${SPAN}-03`, true],
    ["surrounding spaces", `  ${VALID} `, true],
    ["future version with extra fields", `cc-${TRACE}-${SPAN}-01-what-ever`, true],
    ["version 00 with extra fields", `${VALID}-extra`, undefined],
    ["version ff", `ff-${TRACE}-${SPAN}-01`, undefined],
    ["uppercase hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`, undefined],
    ["all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`, undefined],
    ["all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`, undefined],
    ["short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`, undefined],
    ["missing flags", `00-${TRACE}-${SPAN}`, undefined],
    ["garbage", "hello", undefined],
    ["empty", "", undefined],
  ];
  for (const [name, input, sampled] of cases) {
    await t.step(name, () => {
      const ctx = parseTraceparent(input);
      if (sampled === undefined) assert.equal(ctx, undefined);
      else assert.deepEqual(ctx, { traceId: TRACE, spanId: SPAN, sampled });
    });
  }
  assert.equal(parseTraceparent(undefined), undefined);
  assert.equal(parseTraceparent(null), undefined);
});

Deno.test("formatTraceparent() round-trips with parseTraceparent()", () => {
  assert.equal(formatTraceparent(parseTraceparent(VALID)!), VALID);
  assert.equal(
    formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false }),
    `00-${TRACE}-${SPAN}-00`,
  );
});

Deno.test("newTraceparent() makes valid, distinct root contexts", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const tp = newTraceparent();
    const ctx = parseTraceparent(tp);
    assert.ok(ctx, tp);
    assert.equal(ctx.sampled, true);
    seen.add(ctx.traceId);
  }
  assert.equal(seen.size, 1000);
  assert.equal(parseTraceparent(newTraceparent(false))?.sampled, false);
});

Deno.test("childOf() keeps the trace id and flags, and makes a new span id", () => {
  const child = parseTraceparent(childOf(VALID))!;
  assert.equal(child.traceId, TRACE);
  assert.notEqual(child.spanId, SPAN);
  assert.equal(child.sampled, true);
  assert.equal(parseTraceparent(childOf(`00-${TRACE}-${SPAN}-00`))!.sampled, false);
  const root = parseTraceparent(childOf("not a traceparent"));
  assert.ok(root);
  assert.notEqual(root.traceId, TRACE);
});

Deno.test("traceIdOf() and traceFields() read ids for rows and log lines", () => {
  assert.equal(traceIdOf(VALID), TRACE);
  assert.equal(traceIdOf("junk"), undefined);
  assert.deepEqual(traceFields(VALID), { trace_id: TRACE, span_id: SPAN });
  assert.deepEqual(traceFields(undefined), {});
});

for (const protocol of ["http/protobuf", "http/json"] as const) {
  Deno.test(`createTracer() exports parent/child spans as OTLP ${protocol}`, async () => {
    const receiver = startReceiver();
    let clock = 1_700_000_000_000.5;
    const tracer = createTracer({
      service: "producer",
      endpoint: receiver.endpoint + "/",
      log: silentLogger(),
      now: () => clock,
      protocol,
    });
    try {
      assert.equal(tracer.enabled, true);
      const root = tracer.startSpan("produce", {
        kind: "producer",
        attributes: { topic: "logs", partition: 3, ratio: 0.5, retried: false, skipped: undefined },
      });
      const child = tracer.startSpan("bridge", { parent: root.traceparent, kind: "consumer" });
      const grandchild = tracer.startSpan("detect", { parent: child.traceparent });
      grandchild.setAttribute("rule", "cpu_high").fail(
        new Error("Cannot store: postgres://vigil:hunter2@db/vigil refused"),
      );
      clock += 2.25;
      grandchild.end();
      child.end();
      root.end(clock + 1);
      root.end(clock + 99); // idempotent
      await tracer.close();

      assert.deepEqual(receiver.paths, [
        `POST /v1/traces application/${protocol === "http/json" ? "json" : "x-protobuf"}`,
      ]);
      const body = receiver.bodies[0] as {
        resourceSpans: { resource: { attributes: unknown[] }; scopeSpans: unknown[] }[];
      };
      assert.deepEqual(body.resourceSpans[0]!.resource.attributes, [
        { key: "service.name", value: { stringValue: "producer" } },
      ]);
      const spans = receiver.spans();
      assert.equal(spans.length, 3);
      const [g, c, r] = spans as [WireSpan, WireSpan, WireSpan];
      assert.deepEqual([r.name, c.name, g.name], ["produce", "bridge", "detect"]);
      // One trace, linked parent → child → grandchild.
      for (const s of spans) {
        assert.equal(s.traceId, root.traceId);
        assert.match(s.traceId, /^[0-9a-f]{32}$/);
        assert.match(s.spanId, /^[0-9a-f]{16}$/);
      }
      assert.equal(r.spanId, root.spanId);
      assert.equal(r.parentSpanId, undefined);
      assert.equal(c.parentSpanId, r.spanId);
      assert.equal(g.parentSpanId, c.spanId);
      assert.equal(child.traceparent, `00-${root.traceId}-${child.spanId}-01`);
      // Kinds and times (strings of ns).
      assert.deepEqual([r.kind, c.kind, g.kind], [4, 5, 1]);
      assert.equal(r.startTimeUnixNano, "1700000000000500000");
      assert.equal(g.endTimeUnixNano, "1700000000002750000");
      assert.equal(r.endTimeUnixNano, "1700000000003750000");
      // Attributes by type; undefined ones are left out.
      assert.deepEqual(r.attributes, [
        { key: "topic", value: { stringValue: "logs" } },
        { key: "partition", value: { intValue: "3" } },
        { key: "ratio", value: { doubleValue: 0.5 } },
        { key: "retried", value: { boolValue: false } },
      ]);
      assert.deepEqual(g.attributes, [{ key: "rule", value: { stringValue: "cpu_high" } }]);
      // Error status, with credentials redacted.
      assert.equal(g.status.code, 2);
      assert.ok(!g.status.message?.includes("hunter2"), g.status.message);
      assert.deepEqual(r.status, { code: 0 });
      assert.deepEqual(tracer.stats(), { queued: 0, exported: 3, dropped: 0, failed: 0 });
    } finally {
      await tracer.close();
      await receiver.close();
    }
  });
}

Deno.test("createTracer() exports on its timer without an explicit flush", async () => {
  await withTracer({
    flushIntervalMs: 20,
  }, async (tracer, receiver) => {
    tracer.startSpan("one").end();
    const deadline = Date.now() + 10_000;
    while (receiver.spans().length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(receiver.spans().length, 1);
  });
});

Deno.test("createTracer() splits exports into batches of maxBatch", async () => {
  const receiver = startReceiver();
  const tracer = createTracer({
    service: "bridge",
    endpoint: receiver.endpoint,
    log: silentLogger(),
    maxBatch: 2,
    flushIntervalMs: 60_000,
  });
  try {
    for (let i = 0; i < 5; i++) tracer.startSpan(`s${i}`).end();
    await tracer.close();
    assert.deepEqual(
      receiver.bodies.map((b) =>
        (b as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }).resourceSpans[0]!
          .scopeSpans[0]!.spans.length
      ),
      [2, 2, 1],
    );
    assert.deepEqual(receiver.spans().map((s) => s.name), ["s0", "s1", "s2", "s3", "s4"]);
  } finally {
    await receiver.close();
  }
});

Deno.test("createTracer() bounds its queue: drops and counts spans while the receiver is stuck", async () => {
  let release!: () => void;
  const stuck = new Promise<void>((r) => release = r);
  const sent: number[] = [];
  const fakeFetch = async (_url: string | URL | Request, init?: RequestInit) => {
    sent.push(decodeExportRequest(init?.body as Uint8Array).length);
    await stuck;
    return new Response("{}");
  };
  const registry = new Registry("bridge");
  const tracer = createTracer({
    service: "bridge",
    endpoint: "http://collector.invalid:4318",
    log: silentLogger(),
    maxBatch: 2,
    maxQueue: 4,
    flushIntervalMs: 60_000,
    fetch: fakeFetch as typeof fetch,
    registry,
  });
  // 2 spans fill a batch: it leaves the queue and waits on the receiver.
  for (let i = 0; i < 2; i++) tracer.startSpan("a").end();
  await new Promise((r) => setTimeout(r, 0));
  // 4 more fill the queue; the next 3 are dropped.
  for (let i = 0; i < 7; i++) tracer.startSpan("b").end();
  assert.deepEqual(tracer.stats(), { queued: 4, exported: 0, dropped: 3, failed: 0 });
  release();
  await tracer.close();
  assert.deepEqual(tracer.stats(), { queued: 0, exported: 6, dropped: 3, failed: 0 });
  assert.deepEqual(sent, [2, 2, 2]);
  const text = await registry.render();
  assert.match(text, /^vigil_bridge_trace_spans_dropped_total 3$/m);
  assert.match(text, /^vigil_bridge_trace_spans_exported_total 6$/m);
  // After close, spans are dropped rather than queued with no timer to send them.
  tracer.startSpan("late").end();
  assert.equal(tracer.stats().queued, 0);
});

Deno.test("createTracer() counts a failed export and logs it once, without throwing", async () => {
  const receiver = startReceiver(503);
  const lines: string[] = [];
  const tracer = createTracer({
    service: "detector",
    endpoint: receiver.endpoint,
    log: createLogger({ service: "detector", write: (l) => lines.push(l) }),
    maxBatch: 1,
  });
  try {
    tracer.startSpan("x").end();
    tracer.startSpan("y").end();
    await tracer.close();
    assert.equal(receiver.bodies.length, 2);
    assert.deepEqual(tracer.stats(), { queued: 0, exported: 0, dropped: 0, failed: 2 });
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.level, "warn");
    assert.equal(line.msg, "Cannot export spans");
    assert.equal(line.error, "HTTP 503");
  } finally {
    await receiver.close();
  }
});

Deno.test("createTracer() without an endpoint sends nothing but still propagates the trace id", async () => {
  let calls = 0;
  const tracer = createTracer({
    service: "bridge",
    log: silentLogger(),
    fetch: (() => {
      calls++;
      return Promise.resolve(new Response("{}"));
    }) as typeof fetch,
  });
  assert.equal(tracer.enabled, false);
  const child = tracer.startSpan("bridge", { parent: VALID, attributes: { a: 1 } });
  assert.equal(child.recording, false);
  assert.equal(child.traceId, TRACE);
  // A non-recording span carries its parent's context, so the next recorded span links to it.
  assert.equal(child.traceparent, VALID);
  child.setAttribute("b", 2).fail(new Error("x")).end();
  const root = tracer.startSpan("produce");
  assert.ok(parseTraceparent(root.traceparent)?.sampled);
  assert.notEqual(root.traceId, TRACE);
  root.end();
  await tracer.flush();
  await tracer.close();
  assert.equal(calls, 0);
  assert.deepEqual(tracer.stats(), { queued: 0, exported: 0, dropped: 0, failed: 0 });
  assert.equal(noopTracer().startSpan("x", { parent: VALID }).traceId, TRACE);
});

Deno.test("createTracer() samples new traces by ratio and follows the parent's flag", async () => {
  const receiver = startReceiver();
  let r = 0.7;
  const tracer = createTracer({
    service: "producer",
    endpoint: receiver.endpoint,
    log: silentLogger(),
    sampleRatio: 0.5,
    random: () => r,
  });
  try {
    const dropped = tracer.startSpan("root-unsampled");
    assert.equal(dropped.recording, false);
    assert.equal(parseTraceparent(dropped.traceparent)?.sampled, false);
    // Children of an unsampled parent are not recorded either, and keep the flag.
    const child = tracer.startSpan("child", { parent: dropped.traceparent });
    assert.equal(child.recording, false);
    assert.equal(child.traceparent, dropped.traceparent);
    r = 0.2;
    const kept = tracer.startSpan("root-sampled");
    assert.equal(kept.recording, true);
    // Children of a sampled parent are recorded whatever the ratio.
    r = 0.99;
    const keptChild = tracer.startSpan("child-sampled", { parent: kept.traceparent });
    assert.equal(keptChild.recording, true);
    for (const s of [dropped, child, kept, keptChild]) s.end();
    await tracer.close();
    assert.deepEqual(receiver.spans().map((s) => s.name), ["root-sampled", "child-sampled"]);
  } finally {
    await receiver.close();
  }
});

Deno.test("tracingEnv parses the OTel variables and names a bad one", () => {
  const schema = z.object(tracingEnv);
  assert.deepEqual(tracingOptions(parseEnv("x", schema, {})), {
    endpoint: undefined,
    sampleRatio: 1,
    protocol: "http/protobuf",
  });
  assert.deepEqual(
    tracingOptions(parseEnv("x", schema, {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    })),
    { endpoint: "http://jaeger:4318", sampleRatio: 0.25, protocol: "http/json" },
  );
  assert.throws(
    () => parseEnv("x", schema, { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    /OTEL_EXPORTER_OTLP_PROTOCOL/,
  );
  assert.throws(
    () => parseEnv("x", schema, { OTEL_TRACES_SAMPLER_ARG: "2" }),
    /OTEL_TRACES_SAMPLER_ARG/,
  );
  assert.throws(
    () => parseEnv("x", schema, { OTEL_EXPORTER_OTLP_ENDPOINT: "jaeger:4318" }),
    /OTEL_EXPORTER_OTLP_ENDPOINT is not a valid URL/,
  );
});

Deno.test("createTracer() records a span under ids made beforehand (traceparent option)", async () => {
  const receiver = startReceiver();
  const tracer = createTracer({
    service: "producer",
    endpoint: receiver.endpoint,
    log: silentLogger(),
  });
  try {
    // The producer's generator wrote this header; the span must be exactly it.
    const produced = tracer.startSpan("produce logs", {
      traceparent: VALID,
      kind: "producer",
      startTimeMs: 1000,
    });
    assert.equal(produced.traceparent, VALID);
    assert.equal(produced.spanId, SPAN);
    produced.end(1005);
    // A downstream span with that header as parent links to it.
    const bridged = tracer.startSpan("bridge", { parent: VALID, kind: "consumer" });
    bridged.end();
    // Not sampled by its maker: not recorded, context kept.
    const unsampled = tracer.startSpan("x", { traceparent: `00-${TRACE}-${SPAN}-00` });
    assert.equal(unsampled.recording, false);
    unsampled.end();
    await tracer.close();
    const [p, b] = receiver.spans();
    assert.equal(receiver.spans().length, 2);
    assert.deepEqual([p!.traceId, p!.spanId, p!.parentSpanId], [TRACE, SPAN, undefined]);
    assert.deepEqual([b!.traceId, b!.parentSpanId], [TRACE, SPAN]);
  } finally {
    await receiver.close();
  }
  // Without an endpoint the option still fixes the span's context.
  assert.equal(noopTracer().startSpan("x", { traceparent: VALID }).traceparent, VALID);
});

Deno.test("createTracer() exports span links to other traces (digest → alerts)", async () => {
  const receiver = startReceiver();
  const tracer = createTracer({
    service: "notifier",
    endpoint: receiver.endpoint,
    log: silentLogger(),
  });
  const other = `00-${"a".repeat(32)}-${"b".repeat(16)}-01`;
  try {
    const digest = tracer.startSpan("digest", {
      kind: "client",
      links: [VALID, "nonsense", undefined, other, VALID],
    });
    digest.end();
    tracer.startSpan("plain").end();
    await tracer.close();
    const [d, plain] = receiver.spans() as [
      WireSpan & { links?: unknown[] },
      WireSpan & { links?: unknown[] },
    ];
    assert.notEqual(d.traceId, TRACE, "a digest starts its own trace");
    assert.deepEqual(d.links, [
      { traceId: TRACE, spanId: SPAN },
      { traceId: "a".repeat(32), spanId: "b".repeat(16) },
    ]);
    assert.equal(plain.links, undefined);
  } finally {
    await receiver.close();
  }
});

Deno.test("parseTraceparent() reads the sampled bit of every flags value", () => {
  for (let flags = 0; flags < 256; flags++) {
    const hex = flags.toString(16).padStart(2, "0");
    assert.equal(
      parseTraceparent(`00-${TRACE}-${SPAN}-${hex}`)?.sampled,
      (flags & 1) === 1,
      `flags ${hex}`,
    );
  }
});

for (const protocol of ["http/protobuf", "http/json"] as const) {
  Deno.test(`startSpanGroup() records what startSpan would, per parent (${protocol})`, async () => {
    let clock = 1_700_000_000_000.25;
    await withTracer({
      now: () => clock,
      protocol,
    }, async (tracer, receiver) => {
      const unsampled = `00-${TRACE}-${SPAN}-00`;
      const spaced = ` ${VALID} `; // valid, not canonical: the general path
      const parents = [VALID, unsampled, undefined, "garbage", spaced, VALID];
      const group = tracer.startSpanGroup("bridge logs", parents, {
        kind: "consumer",
        attributes: { "messaging.kafka.partition": 7, skipped: undefined },
        perSpan: { key: "messaging.kafka.offset", values: [10, 11, 12, 13, -1, 2 ** 40] },
      });
      assert.equal(group.recorded, 5); // all but the unsampled one
      const tps = group.traceparents;
      assert.equal(tps.length, parents.length);
      assert.equal(tps[1], unsampled); // carried as is, not recorded
      for (const i of [0, 4, 5]) {
        const ctx = parseTraceparent(tps[i])!;
        assert.equal(ctx.traceId, TRACE);
        assert.notEqual(ctx.spanId, SPAN);
        assert.equal(tps[i], formatTraceparent(ctx));
      }
      assert.notEqual(tps[0], tps[5]);
      for (const i of [2, 3]) assert.notEqual(parseTraceparent(tps[i])!.traceId, TRACE); // new roots
      group.setAttribute("vigil.batch_duplicates", 2).fail(new Error("redis://:pw@h down"));
      clock += 3;
      group.end();
      group.end(clock + 50); // idempotent
      await tracer.close();

      const spans = receiver.spans();
      assert.equal(spans.length, 5);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const expectOffsets = [10, undefined, 12, 13, 0, 2 ** 40];
      for (const i of [0, 2, 3, 4, 5]) {
        const ctx = parseTraceparent(tps[i])!;
        const s = byId.get(ctx.spanId)!;
        assert.ok(s, `span of parent ${i}`);
        assert.equal(s.traceId, ctx.traceId);
        assert.equal(s.parentSpanId, i === 2 || i === 3 ? undefined : SPAN);
        assert.equal(s.name, "bridge logs");
        assert.equal(s.kind, 5);
        assert.equal(s.startTimeUnixNano, "1700000000000250000");
        assert.equal(s.endTimeUnixNano, "1700000000003250000");
        assert.deepEqual(s.attributes, [
          { key: "messaging.kafka.partition", value: { intValue: "7" } },
          { key: "vigil.batch_duplicates", value: { intValue: "2" } },
          { key: "messaging.kafka.offset", value: { intValue: String(expectOffsets[i]) } },
        ]);
        assert.equal(s.status.code, 2);
        assert.ok(!s.status.message?.includes("pw"), s.status.message);
      }
      assert.deepEqual(tracer.stats(), { queued: 0, exported: 5, dropped: 0, failed: 0 });
    });
  });
}

Deno.test("startSpanGroup() as an intermediary passes each message's creation context on unchanged", async () => {
  await withTracer({}, async (tracer, receiver) => {
    const unsampled = `00-${TRACE}-${SPAN}-00`;
    const group = tracer.startSpanGroup(
      "bridge logs",
      [VALID, unsampled, undefined, ` ${VALID} `],
      {
        kind: "consumer",
        propagate: "parent",
      },
    );
    const [valid, notSampled, missing, spaced] = group.traceparents;
    assert.equal(valid, VALID);
    assert.equal(notSampled, unsampled);
    assert.equal(spaced, VALID); // canonical form of a valid parent
    const root = parseTraceparent(missing)!;
    assert.notEqual(root.traceId, TRACE);
    group.end();
    await tracer.close();
    const spans = receiver.spans();
    assert.equal(spans.length, 3);
    // The spans are still the parents' children, under ids of their own.
    const children = spans.filter((s) => s.traceId === TRACE);
    assert.equal(children.length, 2);
    for (const c of children) {
      assert.equal(c.parentSpanId, SPAN);
      assert.notEqual(c.spanId, SPAN);
    }
    assert.notEqual(children[0]!.spanId, children[1]!.spanId);
    // A message without a context gets the new root span's, which the entry then carries.
    const r = spans.find((s) => s.traceId === root.traceId)!;
    assert.equal(r.spanId, root.spanId);
    assert.equal(r.parentSpanId, undefined);
  });
});

Deno.test("startSpanGroup() counts a group's spans against the queue bound and the batch size", async () => {
  await withTracer({
    maxBatch: 4,
    maxQueue: 10,
    flushIntervalMs: 60_000,
  }, async (tracer, receiver) => {
    const parents = (n: number) => Array.from({ length: n }, () => newTraceparent());
    // 3 + 3 spans: the second group reaches maxBatch and triggers one export of both.
    tracer.startSpanGroup("a", parents(3)).end();
    tracer.startSpanGroup("b", parents(3)).end();
    // 11 spans cannot fit a queue of 10: dropped whole, and counted per span.
    tracer.startSpanGroup("c", parents(11)).end();
    await tracer.flush();
    assert.deepEqual(tracer.stats(), { queued: 0, exported: 6, dropped: 11, failed: 0 });
    assert.equal(receiver.bodies.length, 1);
    // A group without recorded spans exports nothing.
    const none = tracer.startSpanGroup("d", [`00-${TRACE}-${SPAN}-00`]);
    assert.equal(none.recorded, 0);
    none.end();
    await tracer.flush();
    assert.equal(receiver.bodies.length, 1);
  });
});

Deno.test("startSpanGroup() of a tracer without endpoint only carries contexts", () => {
  const tracer = noopTracer();
  const group = tracer.startSpanGroup("bridge logs", [VALID, undefined]);
  assert.equal(group.recorded, 0);
  assert.equal(group.traceparents[0], VALID);
  assert.ok(parseTraceparent(group.traceparents[1]));
  group.setAttribute("a", 1).fail(new Error("x")).end();
});

Deno.test("createTracer() sends full batches as they fill and leaves the rest to its timer", async () => {
  await withTracer({
    maxBatch: 4,
    flushIntervalMs: 100,
  }, async (tracer, receiver) => {
    for (let i = 0; i < 6; i++) tracer.startSpan(`s${i}`).end();
    await waitFor(() => receiver.bodies.length === 1, { intervalMs: 5, what: "the first export" });
    await new Promise((r) => setTimeout(r, 30));
    // One request of a full batch; the two others wait for the timer, not another request.
    assert.equal(receiver.spans().length, 4);
    assert.equal(tracer.stats().queued, 2);
    await waitFor(() => receiver.spans().length === 6, {
      intervalMs: 5,
      what: "the timer's export",
    });
    assert.equal(receiver.bodies.length, 2);
  });
});
