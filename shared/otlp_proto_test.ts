import assert from "node:assert/strict";
import {
  createExportEncoder,
  decodeExportRequest,
  encodeExportRequest,
  expandGroup,
  type ProtoSpan,
  type ProtoSpanGroup,
} from "./otlp_proto.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

function span(overrides: Partial<ProtoSpan> = {}): ProtoSpan {
  return {
    traceId: TRACE,
    spanId: SPAN,
    parentSpanId: undefined,
    name: "bridge logs",
    kind: 5,
    start: 1_700_000_000_000.5,
    endTime: 1_700_000_000_002.75,
    attributes: [],
    error: undefined,
    links: [],
    ...overrides,
  };
}

const bytes = (...parts: (number | number[] | string)[]) =>
  new Uint8Array(
    parts.flatMap((p) =>
      typeof p === "number" ? [p] : typeof p === "string" ? [...new TextEncoder().encode(p)] : p
    ),
  );
const hexBytes = (hex: string) => hex.match(/../g)!.map((h) => parseInt(h, 16));
const le64 = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));

Deno.test("encodeExportRequest() writes the OTLP protobuf wire format byte for byte", () => {
  const trace = "0102030405060708090a0b0c0d0e0f10";
  const id = "1112131415161718";
  const got = encodeExportRequest("s", [
    span({ traceId: trace, spanId: id, name: "a", kind: 1, start: 1000, endTime: 2000.001 }),
  ]);
  // Built by hand from opentelemetry/proto (field number << 3 | wire type).
  const spanBytes = bytes(
    0x0a,
    16,
    hexBytes(trace), // trace_id = 1
    0x12,
    8,
    hexBytes(id), // span_id = 2
    0x2a,
    1,
    "a", // name = 5
    0x30,
    1, // kind = 6
    0x39,
    le64(1_000_000_000n), // start_time_unix_nano = 7 (fixed64)
    0x41,
    le64(2_000_001_000n), // end_time_unix_nano = 8
  );
  const scope = bytes(0x0a, 5, "vigil", 0x12, 5, "0.1.0");
  const scopeSpans = bytes(0x0a, scope.length, [...scope], 0x12, spanBytes.length, [...spanBytes]);
  const anyValue = bytes(0x0a, 1, "s");
  const keyValue = bytes(0x0a, 12, "service.name", 0x12, anyValue.length, [...anyValue]);
  const resource = bytes(0x0a, keyValue.length, [...keyValue]);
  const resourceSpans = bytes(
    0x0a,
    resource.length,
    [...resource],
    0x12,
    scopeSpans.length,
    [...scopeSpans],
  );
  const want = bytes(0x0a, resourceSpans.length, [...resourceSpans]);
  assert.deepEqual([...got], [...want]);
});

Deno.test("encodeExportRequest() round-trips every field through decodeExportRequest()", () => {
  const longText = "x".repeat(300); // a two-byte length
  const spans: ProtoSpan[] = [
    span({
      parentSpanId: "a".repeat(16),
      attributes: [
        "messaging.kafka.partition",
        3,
        "messaging.kafka.offset",
        "123456",
        "ratio",
        0.25,
        "retried",
        true,
        "delta",
        -5,
        "unicode",
        "café ✓",
        "long",
        longText,
      ],
      error: "Cannot append: ERR ✗",
      links: [{ traceId: "b".repeat(32), spanId: "c".repeat(16) }],
    }),
    span({ spanId: "0000000000000001", start: 1_700_000_000_000, endTime: 1_700_000_000_000 }),
  ];
  const decoded = decodeExportRequest(encodeExportRequest("bridge", spans));
  assert.equal(decoded.length, 2);
  const [a, b] = decoded as [(typeof decoded)[0], (typeof decoded)[0]];
  assert.equal(a.service, "bridge");
  assert.equal(a.traceId, TRACE);
  assert.equal(a.spanId, SPAN);
  assert.equal(a.parentSpanId, "a".repeat(16));
  assert.equal(a.name, "bridge logs");
  assert.equal(a.kind, 5);
  assert.equal(a.startTimeUnixNano, "1700000000000500000");
  assert.equal(a.endTimeUnixNano, "1700000000002750000");
  assert.deepEqual(a.attributes, [
    { key: "messaging.kafka.partition", value: { intValue: "3" } },
    { key: "messaging.kafka.offset", value: { stringValue: "123456" } },
    { key: "ratio", value: { doubleValue: 0.25 } },
    { key: "retried", value: { boolValue: true } },
    { key: "delta", value: { intValue: "-5" } },
    { key: "unicode", value: { stringValue: "café ✓" } },
    { key: "long", value: { stringValue: longText } },
  ]);
  assert.deepEqual(a.status, { code: 2, message: "Cannot append: ERR ✗" });
  assert.deepEqual(a.links, [{ traceId: "b".repeat(32), spanId: "c".repeat(16) }]);
  assert.equal(b.parentSpanId, undefined);
  assert.equal(b.links, undefined);
  assert.deepEqual(b.status, { code: 0 });
  assert.equal(b.startTimeUnixNano, "1700000000000000000");
});

Deno.test("encodeExportRequest() handles a batch far above 16 KiB (three-byte lengths)", () => {
  const spans = Array.from({ length: 2000 }, (_, i) =>
    span({
      spanId: (i + 1).toString(16).padStart(16, "0"),
      start: 1_700_000_000_000 + i + 0.001,
      endTime: 1_700_000_000_001 + i,
      attributes: ["messaging.kafka.offset", String(i)],
    }));
  const body = encodeExportRequest("bridge", spans);
  assert.ok(body.length > 100_000, `${body.length} bytes`);
  const decoded = decodeExportRequest(body);
  assert.equal(decoded.length, 2000);
  for (const [i, s] of decoded.entries()) {
    assert.equal(s.spanId, (i + 1).toString(16).padStart(16, "0"));
    assert.equal(
      s.startTimeUnixNano,
      String(1_700_000_000_000n * 1_000_000n + BigInt(i) * 1_000_000n + 1000n),
    );
    assert.deepEqual(s.attributes, [{
      key: "messaging.kafka.offset",
      value: { stringValue: String(i) },
    }]);
  }
});

Deno.test("decodeExportRequest() rejects truncated or malformed bodies", () => {
  const body = encodeExportRequest("bridge", [span()]);
  assert.throws(() => decodeExportRequest(body.subarray(0, body.length - 3)), RangeError);
  assert.throws(() => decodeExportRequest(new Uint8Array([0x0a, 0xff])), RangeError);
  assert.throws(() => decodeExportRequest(new TextEncoder().encode('{"resourceSpans":[]}')));
  assert.deepEqual(decodeExportRequest(new Uint8Array(0)), []);
});

/** A group of `n` spans: children of random parents, every third one a root. */
function group(n: number, overrides: Partial<ProtoSpanGroup> = {}): ProtoSpanGroup {
  const hex = (bytes: number) =>
    Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
  let ids = "";
  const ints: number[] = [];
  for (let i = 0; i < n; i++) {
    ids += `00-${hex(16)}-${i % 3 === 2 ? "0".repeat(16) : hex(8)}-01` + hex(8);
    ints.push(i * 997 ** (i % 5)); // one- to seven-byte varints
  }
  return {
    name: "bridge transactions",
    kind: 5,
    start: 1_700_000_000_000.25,
    endTime: 1_700_000_000_003.5,
    attributes: ["messaging.kafka.partition", 7],
    error: undefined,
    ids,
    intKey: "messaging.kafka.offset",
    ints,
    ...overrides,
  };
}

Deno.test("a span group encodes to the same bytes as its spans one by one", () => {
  const encode = createExportEncoder();
  const cases: ProtoSpanGroup[] = [
    group(50),
    group(10, { error: "Redis down", intKey: undefined, ints: undefined }),
    group(3, { attributes: [], name: "x".repeat(200) }), // two-byte span lengths either way
    group(0),
  ];
  for (const g of cases) {
    const spans = expandGroup(g);
    const expected = encodeExportRequest("bridge", spans);
    assert.deepEqual(encode("bridge", [g]), expected);
    const decoded = decodeExportRequest(expected);
    assert.equal(decoded.length, spans.length);
    for (const [i, d] of decoded.entries()) {
      assert.equal(d.traceId, g.ids.slice(i * 71 + 3, i * 71 + 35));
      assert.equal(d.spanId, g.ids.slice(i * 71 + 55, i * 71 + 71));
      assert.equal(d.parentSpanId, i % 3 === 2 ? undefined : g.ids.slice(i * 71 + 36, i * 71 + 52));
      if (g.intKey) {
        assert.deepEqual(d.attributes.at(-1), {
          key: g.intKey,
          value: { intValue: String(g.ints![i]) },
        });
      }
    }
  }
});

Deno.test("an export request mixes spans and groups in order", () => {
  const g = group(4);
  const single = span({ attributes: ["vigil.rule", "error_spike"] });
  const body = createExportEncoder()("detector", [single, g]);
  assert.deepEqual(body, encodeExportRequest("detector", [single, ...expandGroup(g)]));
  assert.deepEqual(decodeExportRequest(body).map((s) => s.service), Array(5).fill("detector"));
});
