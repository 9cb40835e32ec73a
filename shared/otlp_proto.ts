/**
 * OTLP trace export in protobuf (`application/x-protobuf`, the OTLP/HTTP
 * default): a hand-written encoder for the few messages a span export needs,
 * and a decoder of the same messages for the test receiver
 * (`tools/testing/otlp_receiver.ts`).
 *
 * Why by hand: the exporter runs on every traced event of the bridge's hot
 * path. Writing varints and bytes into one growing buffer costs a fraction of
 * building the JSON text, and the body is about a third of its size. The
 * message layout follows `opentelemetry/proto/collector/trace/v1` (field
 * numbers below); `otlp_proto_test.ts` checks a round trip and the bytes of
 * a known span.
 *
 * @module
 */

/** What the encoder needs of a span (the tracer's recording span has these fields). */
export interface ProtoSpan {
  /** 32 lowercase hex chars. */
  traceId: string;
  /** 16 lowercase hex chars. */
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind number. */
  kind: number;
  /** ms since the epoch (fractions = µs). */
  start: number;
  endTime: number;
  /** Flat `[key, value, key, value, …]`. */
  attributes: (string | number | boolean)[];
  /** Status ERROR with this message when set. */
  error: string | undefined;
  links: readonly { traceId: string; spanId: string }[];
}

// Field tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const T_RESOURCE_SPANS = (1 << 3) | 2;
const T_RESOURCE = (1 << 3) | 2;
const T_SCOPE_SPANS = (2 << 3) | 2;
const T_SCOPE = (1 << 3) | 2;
const T_SPANS = (2 << 3) | 2;
const T_ATTRIBUTES_RESOURCE = (1 << 3) | 2;
const T_NAME_SCOPE = (1 << 3) | 2;
const T_VERSION_SCOPE = (2 << 3) | 2;
// Span
const S_TRACE_ID = (1 << 3) | 2;
const S_SPAN_ID = (2 << 3) | 2;
const S_PARENT_SPAN_ID = (4 << 3) | 2;
const S_NAME = (5 << 3) | 2;
const S_KIND = (6 << 3) | 0;
const S_START = (7 << 3) | 1;
const S_END = (8 << 3) | 1;
const S_ATTRIBUTES = (9 << 3) | 2;
const S_LINKS = (13 << 3) | 2;
const S_STATUS = (15 << 3) | 2;
// Link
const L_TRACE_ID = (1 << 3) | 2;
const L_SPAN_ID = (2 << 3) | 2;
// Status
const ST_MESSAGE = (2 << 3) | 2;
const ST_CODE = (3 << 3) | 0;
// KeyValue / AnyValue
const KV_KEY = (1 << 3) | 2;
const KV_VALUE = (2 << 3) | 2;
const AV_STRING = (1 << 3) | 2;
const AV_BOOL = (2 << 3) | 0;
const AV_INT = (3 << 3) | 0;
const AV_DOUBLE = (4 << 3) | 1;

const HEX_VALUE = new Uint8Array(65536);
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;
for (let i = 0; i < 6; i++) HEX_VALUE["ABCDEF".charCodeAt(i)] = 10 + i;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const utf8 = new TextEncoder();

/** A growable output buffer with protobuf primitives. */
class Writer {
  buf: Uint8Array<ArrayBuffer>;
  view: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** A varint below 2^53 (callers ensure room: 8 bytes). */
  varint(v: number): void {
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }
  /** Hex text as raw bytes (length-delimited field). */
  hexBytes(tag: number, hex: string): void {
    const n = hex.length >> 1;
    this.ensure(n + 2);
    const b = this.buf;
    b[this.pos++] = tag;
    b[this.pos++] = n;
    for (let i = 0; i < n; i++) {
      b[this.pos++] = (HEX_VALUE[hex.charCodeAt(2 * i)]! << 4) |
        HEX_VALUE[hex.charCodeAt(2 * i + 1)]!;
    }
  }
  /** A string field (UTF-8). */
  string(tag: number, s: string): void {
    this.ensure(s.length * 3 + 12);
    const b = this.buf;
    b[this.pos++] = tag;
    // ASCII fast path, else TextEncoder.
    let ascii = s.length < 128;
    if (ascii) {
      for (let i = 0; i < s.length; i++) {
        if (s.charCodeAt(i) >= 0x80) {
          ascii = false;
          break;
        }
      }
    }
    if (ascii) {
      b[this.pos++] = s.length;
      for (let i = 0; i < s.length; i++) b[this.pos++] = s.charCodeAt(i);
      return;
    }
    const bytes = utf8.encode(s);
    this.varint(bytes.length);
    b.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  /** Pre-encoded bytes. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  /**
   * Start a length-delimited field whose length will take `reserve` bytes
   * (a guess: {@link close} moves the content when it is wrong); returns the
   * mark to pass to {@link close}.
   */
  open(tag: number, reserve = 3): number {
    this.ensure(1 + reserve);
    this.buf[this.pos++] = tag;
    this.pos += reserve;
    return this.pos * 4 + reserve; // position and reserve in one number (below 2^53)
  }
  close(mark: number): void {
    const reserve = mark % 4, start = (mark - reserve) / 4;
    const len = this.pos - start;
    const size = len < 0x80 ? 1 : len < 0x4000 ? 2 : len < 0x200000 ? 3 : varintSize(len);
    const at = start - reserve;
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(at + size, start, this.pos);
    }
    this.pos = at;
    this.varint(len);
    this.pos = at + size + len;
  }
  /** A fixed64 of ms since the epoch as ns (exact to the µs). */
  nanos(tag: number, ms: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    // Spans of one batch share their start and their end: remember two conversions.
    let c = this.times[0]!;
    if (c.ms !== ms) {
      c = this.times[1]!;
      if (c.ms !== ms) {
        this.times.reverse();
        c = this.times[0]!;
        c.ms = ms;
        let whole = Math.floor(ms);
        let micros = Math.round((ms - whole) * 1000);
        if (micros === 1000) (whole += 1), (micros = 0);
        // ns = seconds * 1e9 + rest; both parts exact in doubles, combined in two 32-bit halves.
        const seconds = Math.floor(whole / 1000);
        const rest = (whole - seconds * 1000) * 1e6 + micros * 1000;
        const sLo = seconds % 0x10000, sHi = Math.floor(seconds / 0x10000);
        const p1 = sLo * 1e9 + rest; // < 2^47
        const p2 = sHi * 1e9; // × 2^16
        let lo = (p1 % 0x100000000) + (p2 % 0x10000) * 0x10000;
        let hi = Math.floor(p1 / 0x100000000) + Math.floor(p2 / 0x10000);
        if (lo >= 0x100000000) (lo -= 0x100000000), (hi += 1);
        c.lo = lo;
        c.hi = hi;
      }
    }
    this.view.setUint32(this.pos, c.lo, true);
    this.view.setUint32(this.pos + 4, c.hi, true);
    this.pos += 8;
  }
  times = [{ ms: NaN, lo: 0, hi: 0 }, { ms: NaN, lo: 0, hi: 0 }];
  double(tag: number, v: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
}

/**
 * A string field pre-encoded (tag, length, UTF-8), cached per tag: attribute
 * keys and span names are a small, bounded set of code constants.
 */
const FIELD_BYTES = new Map<number, Map<string, Uint8Array>>();
function fieldBytes(tag: number, s: string): Uint8Array {
  let cache = FIELD_BYTES.get(tag);
  if (cache === undefined) FIELD_BYTES.set(tag, cache = new Map());
  let bytes = cache.get(s);
  if (bytes === undefined) {
    const w = new Writer(s.length * 3 + 8);
    w.string(tag, s);
    bytes = w.buf.slice(0, w.pos);
    if (cache.size < 1024) cache.set(s, bytes);
  }
  return bytes;
}

/** Bytes of a varint. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) (v = Math.floor(v / 0x80)), n++;
  return n;
}

/** Whether `s` is ASCII and short enough for one-byte lengths in a KeyValue. */
function shortAscii(s: string): boolean {
  if (s.length > 100) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

function attribute(w: Writer, tag: number, key: string, value: string | number | boolean): void {
  const head = fieldBytes(KV_KEY, key);
  // Common cases with lengths known up front (no content moves).
  let avLen = 200;
  if (typeof value === "string" && shortAscii(value)) avLen = 2 + value.length;
  else if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    avLen = 1 + varintSize(value);
  }
  const kvLen = head.length + 2 + avLen;
  if (kvLen < 0x80) {
    w.ensure(kvLen + 2);
    const b = w.buf;
    b[w.pos++] = tag;
    b[w.pos++] = kvLen;
    b.set(head, w.pos);
    w.pos += head.length;
    b[w.pos++] = KV_VALUE;
    b[w.pos++] = avLen;
    if (typeof value === "string") {
      b[w.pos++] = AV_STRING;
      b[w.pos++] = value.length;
      for (let i = 0; i < value.length; i++) b[w.pos++] = value.charCodeAt(i);
    } else {
      b[w.pos++] = AV_INT;
      w.varint(value as number);
    }
    return;
  }
  const kv = w.open(tag);
  w.raw(head);
  const av = w.open(KV_VALUE);
  if (typeof value === "string") w.string(AV_STRING, value);
  else if (typeof value === "boolean") {
    w.ensure(2);
    w.buf[w.pos++] = AV_BOOL;
    w.buf[w.pos++] = value ? 1 : 0;
  } else if (Number.isSafeInteger(value) && value >= 0) {
    w.ensure(10);
    w.buf[w.pos++] = AV_INT;
    w.varint(value);
  } else if (Number.isSafeInteger(value)) {
    // Negative int64: two's complement varint of 10 bytes.
    w.ensure(11);
    w.buf[w.pos++] = AV_INT;
    let big = BigInt.asUintN(64, BigInt(value));
    while (big >= 0x80n) {
      w.buf[w.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    w.buf[w.pos++] = Number(big);
  } else if (Number.isFinite(value)) w.double(AV_DOUBLE, value);
  else w.string(AV_STRING, String(value));
  w.close(av);
  w.close(kv);
}

/**
 * Spans that share everything but their ids and one integer attribute: the
 * bridge's spans of one consumed batch (one per message). The shared fields
 * mean the same as in {@link ProtoSpan}, for every span of the group.
 */
export interface ProtoSpanGroup
  extends Pick<ProtoSpan, "name" | "kind" | "start" | "endTime" | "attributes" | "error"> {
  /**
   * Per span, {@link GROUP_ID_CHARS} characters: its parent's canonical
   * traceparent (`00-<trace id>-<parent span id>-<flags>`, 55 chars; for a
   * root span, its own trace id and an all-zero parent id) followed by its
   * own span id (16 hex chars). The parent's header value goes in as is: no
   * string is built per span.
   */
  ids: string;
  /** Key of the per-span integer attribute, when there is one. */
  intKey: string | undefined;
  /** Per span, its value of `intKey` (a non-negative safe integer). */
  ints: number[] | undefined;
}

/** Characters per span in {@link ProtoSpanGroup.ids}. */
export const GROUP_ID_CHARS = 71;

/** What one export request is made of: spans, and groups of spans. */
export type ExportPart = ProtoSpan | ProtoSpanGroup;

/** Spans in a group. */
export function groupSize(group: ProtoSpanGroup): number {
  return group.ids.length / GROUP_ID_CHARS;
}

/** The spans of a group, one by one (the JSON encoding and tests). */
export function expandGroup(group: ProtoSpanGroup): ProtoSpan[] {
  const out: ProtoSpan[] = [];
  const n = groupSize(group);
  for (let i = 0; i < n; i++) {
    const at = i * GROUP_ID_CHARS;
    const parent = group.ids.slice(at + 36, at + 52);
    const attributes = [...group.attributes];
    if (group.intKey !== undefined) attributes.push(group.intKey, group.ints![i]!);
    out.push({
      traceId: group.ids.slice(at + 3, at + 35),
      spanId: group.ids.slice(at + 55, at + 71),
      parentSpanId: parent === ZERO_SPAN_ID ? undefined : parent,
      name: group.name,
      kind: group.kind,
      start: group.start,
      endTime: group.endTime,
      attributes,
      error: group.error,
      links: [],
    });
  }
  return out;
}
const ZERO_SPAN_ID = "0".repeat(16);

/**
 * One `ExportTraceServiceRequest` holding `spans` of `service` (scope
 * `vigil`). Ids must be valid hex (the tracer makes or validates them).
 */
export function encodeExportRequest(
  service: string,
  spans: readonly ProtoSpan[],
  scope: { name: string; version: string } = DEFAULT_SCOPE,
): Uint8Array<ArrayBuffer> {
  const w = new Writer(256 + spans.length * 160);
  writeRequest(w, service, spans, scope);
  return w.buf.subarray(0, w.pos);
}

/**
 * An encoder of export requests that reuses one buffer for every request:
 * the returned bytes are valid until its next call. The tracer exports one
 * batch at a time, and `fetch` copies the body when called, so each export
 * encodes into the same memory instead of allocating a new buffer outside
 * the heap (which costs garbage collections at a span per event). The buffer
 * keeps the size of the largest request so far.
 */
export function createExportEncoder(
  scope: { name: string; version: string } = DEFAULT_SCOPE,
): (service: string, parts: readonly ExportPart[]) => Uint8Array<ArrayBuffer> {
  const w = new Writer(64 * 1024);
  return (service, parts) => {
    w.pos = 0;
    writeRequest(w, service, parts, scope);
    return w.buf.subarray(0, w.pos);
  };
}

const DEFAULT_SCOPE = { name: "vigil", version: "0.1.0" };

function writeRequest(
  w: Writer,
  service: string,
  parts: readonly ExportPart[],
  scope: { name: string; version: string },
): void {
  const rs = w.open(T_RESOURCE_SPANS);
  const res = w.open(T_RESOURCE);
  attribute(w, T_ATTRIBUTES_RESOURCE, "service.name", service);
  w.close(res);
  const ss = w.open(T_SCOPE_SPANS);
  const sc = w.open(T_SCOPE);
  w.string(T_NAME_SCOPE, scope.name);
  w.string(T_VERSION_SCOPE, scope.version);
  w.close(sc);
  for (const part of parts) {
    if ("ids" in part) writeGroup(w, part);
    else writeSpan(w, part);
  }
  w.close(ss);
  w.close(rs);
}

function writeSpan(w: Writer, s: ProtoSpan): void {
  const sp = w.open(T_SPANS, 2);
  w.hexBytes(S_TRACE_ID, s.traceId);
  w.hexBytes(S_SPAN_ID, s.spanId);
  if (s.parentSpanId !== undefined) w.hexBytes(S_PARENT_SPAN_ID, s.parentSpanId);
  writeShared(w, s);
  for (const l of s.links) {
    const lk = w.open(S_LINKS);
    w.hexBytes(L_TRACE_ID, l.traceId);
    w.hexBytes(L_SPAN_ID, l.spanId);
    w.close(lk);
  }
  writeStatus(w, s.error);
  w.close(sp);
}

/** Name, kind, times and attributes: what the spans of a group share. */
function writeShared(w: Writer, s: ProtoSpanGroup | ProtoSpan): void {
  w.raw(fieldBytes(S_NAME, s.name));
  w.ensure(3);
  w.buf[w.pos++] = S_KIND;
  w.varint(s.kind);
  w.nanos(S_START, s.start);
  w.nanos(S_END, s.endTime);
  const a = s.attributes;
  for (let k = 0; k < a.length; k += 2) attribute(w, S_ATTRIBUTES, a[k] as string, a[k + 1]!);
}

function writeStatus(w: Writer, error: string | undefined): void {
  if (error === undefined) return;
  const st = w.open(S_STATUS);
  w.string(ST_MESSAGE, error);
  w.ensure(2);
  w.buf[w.pos++] = ST_CODE;
  w.buf[w.pos++] = 2;
  w.close(st);
}

/** `count` bytes from the hex at `at` in `s`, written at `pos` of `b`. */
function hexInto(b: Uint8Array, pos: number, s: string, at: number, count: number): void {
  for (let i = 0; i < count; i++) {
    b[pos + i] = (HEX_VALUE[s.charCodeAt(at + 2 * i)]! << 4) |
      HEX_VALUE[s.charCodeAt(at + 2 * i + 1)]!;
  }
}

/**
 * The spans of a group, the same bytes as {@link writeSpan} would write for
 * each: the fields they share are encoded once, each span adds its ids and
 * its integer attribute.
 */
function writeGroup(w: Writer, g: ProtoSpanGroup): void {
  // Shared middle: name, kind, times, shared attributes; shared tail: status.
  const shared = new Writer(128);
  writeShared(shared, g);
  const middle = shared.buf.slice(0, shared.pos);
  shared.pos = 0;
  writeStatus(shared, g.error);
  const tail = shared.buf.slice(0, shared.pos);
  const key = g.intKey === undefined ? undefined : fieldBytes(KV_KEY, g.intKey);
  const ids = g.ids, ints = g.ints;
  const n = groupSize(g);
  for (let i = 0; i < n; i++) {
    const at = i * GROUP_ID_CHARS;
    let kvLen = 0;
    const value = key !== undefined ? ints![i]! : 0;
    if (key !== undefined) kvLen = key.length + 3 + varintSize(value); // key, value tag+len, AV_INT+varint
    const parent = !ids.startsWith(ZERO_SPAN_ID, at + 36); // a root span has no parent field
    const len = 18 + 10 + (parent ? 10 : 0) + middle.length +
      (key !== undefined ? 2 + kvLen : 0) + tail.length;
    w.ensure(len + 8);
    const b = w.buf;
    b[w.pos++] = T_SPANS;
    w.varint(len);
    const body = w.pos;
    b[w.pos++] = S_TRACE_ID;
    b[w.pos++] = 16;
    hexInto(b, w.pos, ids, at + 3, 16);
    w.pos += 16;
    b[w.pos++] = S_SPAN_ID;
    b[w.pos++] = 8;
    hexInto(b, w.pos, ids, at + 55, 8);
    w.pos += 8;
    if (parent) {
      b[w.pos++] = S_PARENT_SPAN_ID;
      b[w.pos++] = 8;
      hexInto(b, w.pos, ids, at + 36, 8);
      w.pos += 8;
    }
    b.set(middle, w.pos);
    w.pos += middle.length;
    if (key !== undefined) {
      b[w.pos++] = S_ATTRIBUTES;
      b[w.pos++] = kvLen;
      b.set(key, w.pos);
      w.pos += key.length;
      b[w.pos++] = KV_VALUE;
      b[w.pos++] = 1 + varintSize(value);
      b[w.pos++] = AV_INT;
      w.varint(value);
    }
    b.set(tail, w.pos);
    w.pos += tail.length;
    if (w.pos - body !== len) throw new Error("span group encoding: length mismatch");
  }
}

// ---------------------------------------------------------------------------
// Decoder (test receiver): the same messages, into the OTLP JSON shape.

/** A decoded span in the shape of OTLP JSON (ids as hex, times as decimal strings). */
export interface DecodedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number; message?: string };
  links?: { traceId: string; spanId: string }[];
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new RangeError("truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new RangeError("varint too long");
    }
  }
  /** Each field of the message as (field number, wire type, sub-reader or value). */
  *fields(): Generator<{ field: number; wire: number; value: bigint; bytes: Uint8Array }> {
    while (this.pos < this.end) {
      const tag = Number(this.varint());
      const field = tag >>> 3, wire = tag & 7;
      let value = 0n;
      let bytes: Uint8Array = new Uint8Array(0);
      if (wire === 0) value = this.varint();
      else if (wire === 1 || wire === 5) {
        const n = wire === 1 ? 8 : 4;
        if (this.pos + n > this.end) throw new RangeError("truncated fixed field");
        const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
        value = n === 8 ? view.getBigUint64(0, true) : BigInt(view.getUint32(0, true));
        this.pos += n;
      } else if (wire === 2) {
        const n = Number(this.varint());
        if (this.pos + n > this.end) throw new RangeError("truncated length-delimited field");
        bytes = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
      } else throw new RangeError(`unsupported wire type ${wire}`);
      yield { field, wire, value, bytes };
    }
  }
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += HEX[b]!;
  return s;
}
function messageFields(bytes: Uint8Array) {
  return new Reader(bytes).fields();
}

function decodeAnyValue(bytes: Uint8Array): Record<string, unknown> {
  for (const f of messageFields(bytes)) {
    switch (f.field) {
      case 1:
        return { stringValue: utf8Decoder.decode(f.bytes) };
      case 2:
        return { boolValue: f.value !== 0n };
      case 3:
        return { intValue: BigInt.asIntN(64, f.value).toString() };
      case 4:
        return {
          doubleValue: new DataView(new BigUint64Array([f.value]).buffer).getFloat64(0, true),
        };
    }
  }
  return {};
}

function decodeKeyValue(bytes: Uint8Array): { key: string; value: Record<string, unknown> } {
  let key = "";
  let value: Record<string, unknown> = {};
  for (const f of messageFields(bytes)) {
    if (f.field === 1) key = utf8Decoder.decode(f.bytes);
    else if (f.field === 2) value = decodeAnyValue(f.bytes);
  }
  return { key, value };
}

function decodeSpan(service: string, bytes: Uint8Array): DecodedSpan {
  const span: DecodedSpan = {
    service,
    traceId: "",
    spanId: "",
    name: "",
    kind: 0,
    startTimeUnixNano: "0",
    endTimeUnixNano: "0",
    attributes: [],
    status: { code: 0 },
  };
  for (const f of messageFields(bytes)) {
    switch (f.field) {
      case 1:
        span.traceId = hex(f.bytes);
        break;
      case 2:
        span.spanId = hex(f.bytes);
        break;
      case 4:
        if (f.bytes.length > 0) span.parentSpanId = hex(f.bytes);
        break;
      case 5:
        span.name = utf8Decoder.decode(f.bytes);
        break;
      case 6:
        span.kind = Number(f.value);
        break;
      case 7:
        span.startTimeUnixNano = f.value.toString();
        break;
      case 8:
        span.endTimeUnixNano = f.value.toString();
        break;
      case 9:
        span.attributes.push(decodeKeyValue(f.bytes));
        break;
      case 13: {
        const link = { traceId: "", spanId: "" };
        for (const l of messageFields(f.bytes)) {
          if (l.field === 1) link.traceId = hex(l.bytes);
          else if (l.field === 2) link.spanId = hex(l.bytes);
        }
        (span.links ??= []).push(link);
        break;
      }
      case 15:
        for (const s of messageFields(f.bytes)) {
          if (s.field === 2) span.status.message = utf8Decoder.decode(s.bytes);
          else if (s.field === 3) span.status.code = Number(s.value);
        }
        break;
    }
  }
  return span;
}

/**
 * Decode an `ExportTraceServiceRequest`. Throws a RangeError or TypeError on
 * malformed input.
 */
export function decodeExportRequest(bytes: Uint8Array): DecodedSpan[] {
  const out: DecodedSpan[] = [];
  for (const rs of messageFields(bytes)) {
    if (rs.field !== 1 || rs.wire !== 2) continue;
    let service = "unknown";
    const scopeSpans: Uint8Array[] = [];
    for (const f of messageFields(rs.bytes)) {
      if (f.field === 1) {
        for (const r of messageFields(f.bytes)) {
          if (r.field !== 1) continue;
          const kv = decodeKeyValue(r.bytes);
          if (kv.key === "service.name" && typeof kv.value.stringValue === "string") {
            service = kv.value.stringValue;
          }
        }
      } else if (f.field === 2) scopeSpans.push(f.bytes);
    }
    for (const ss of scopeSpans) {
      for (const f of messageFields(ss)) {
        if (f.field === 2) out.push(decodeSpan(service, f.bytes));
      }
    }
  }
  return out;
}
