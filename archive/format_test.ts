import assert from "node:assert/strict";
import {
  appendToBuffer,
  archiveLine,
  gapKey,
  isDue,
  isFull,
  objectKey,
  parseObjectKey,
  progressKey,
  startBuffer,
} from "./format.ts";
import { utf8Length } from "@vigil/shared/schemas/hygiene";
import { decodeField } from "@vigil/tools/testing/archive";

const enc = new TextEncoder();

Deno.test("archiveLine() keeps UTF-8 as text and anything else as base64, byte for byte", () => {
  const value = new Uint8Array([0xef, 0xbb, 0xbf, 0x41, 0xff]);
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
  const line = JSON.parse(archiveLine({
    topic: "logs",
    partition: 3,
    offset: "17",
    timestamp: "1700000000000",
    key: bom,
    value,
    headers: { traceparent: enc.encode("00-x"), multi: [enc.encode("a"), "b"] },
  }));
  assert.equal(line.value_encoding, "base64");
  assert.deepEqual([...decodeField(line.value, line.value_encoding)!], [...value]);
  assert.equal(line.key_encoding, "utf8");
  assert.deepEqual([...decodeField(line.key, line.key_encoding)!], [...bom], "BOM kept");
  assert.deepEqual(line.headers, [["traceparent", "00-x", "utf8"], ["multi", "a", "utf8"], [
    "multi",
    "b",
    "utf8",
  ]]);
  const empty = JSON.parse(
    archiveLine({ topic: "l", partition: 0, offset: "0", timestamp: "0", key: null, value: null }),
  );
  assert.equal(empty.value, null);
  assert.equal(decodeField(empty.value, empty.value_encoding), null);
});

Deno.test("objectKey() is derived from topic, first message time, partition and first offset", () => {
  const first = {
    topic: "metrics",
    partition: 4,
    offset: "1200",
    timestamp: String(Date.UTC(2025, 2, 9, 7, 59)),
  };
  assert.equal(objectKey("raw", first), "raw/metrics/dt=2025-03-09/hour=07/4-1200.ndjson.gz");
  assert.equal(objectKey("/a/b/", first), "a/b/metrics/dt=2025-03-09/hour=07/4-1200.ndjson.gz");
  assert.equal(
    objectKey("", { ...first, timestamp: "bogus" }),
    "metrics/dt=1970-01-01/hour=00/4-1200.ndjson.gz",
  );
  // A log that started again names its objects apart from the old log's.
  assert.equal(
    objectKey("raw", { ...first, log: 1764922500123 }),
    "raw/metrics/dt=2025-03-09/hour=07/4-1200.log1764922500123.ndjson.gz",
  );
  assert.equal(objectKey("raw", { ...first, log: 0 }), objectKey("raw", first));
  // Kafka timestamps are any int64: past a Date, or past year 9999, they count as 0 too.
  for (const timestamp of ["9000000000000000", "253402300800000", "-5"]) {
    assert.equal(
      objectKey("raw", { ...first, timestamp }),
      "raw/metrics/dt=1970-01-01/hour=00/4-1200.ndjson.gz",
    );
  }
  assert.equal(
    objectKey("raw", { ...first, timestamp: "253402300799999" }),
    "raw/metrics/dt=9999-12-31/hour=23/4-1200.ndjson.gz",
  );
});

Deno.test("isFull() and isDue() cut a buffer by count, bytes or age", () => {
  const m = (offset: string) => ({
    topic: "t",
    partition: 0,
    offset,
    timestamp: "0",
    key: null,
    value: null,
  });
  const policy = { maxMessages: 3, maxBytes: 1000, maxAgeMs: 5000 };
  const buffer = startBuffer(m("5"), "x".repeat(10), 1000);
  appendToBuffer(buffer, m("6"), "y".repeat(10));
  assert.equal(buffer.firstOffset, "5");
  assert.equal(buffer.lastOffset, "6");
  assert.equal(buffer.bytes, 22);
  assert.equal(isFull(buffer, policy), false);
  assert.equal(isDue(buffer, policy, 5999), false);
  assert.equal(isDue(buffer, policy, 6000), true);
  appendToBuffer(buffer, m("8"), "z");
  assert.equal(isFull(buffer, policy), true);
  assert.equal(isFull(startBuffer(m("1"), "x".repeat(2000), 0), policy), true);
});

Deno.test("a buffer's bytes are the UTF-8 size of its lines (ARCHIVE_FLUSH_BYTES is bytes)", () => {
  const m = { topic: "t", partition: 0, offset: "1", timestamp: "0", key: null, value: null };
  // 400 CJK characters are 1,200 bytes: over a 1,000-byte bound, though 400 UTF-16 units.
  const cjk = "日".repeat(400);
  const policy = { maxMessages: 100, maxBytes: 1000, maxAgeMs: 5000 };
  assert.equal(startBuffer(m, cjk, 0).bytes, 1201);
  assert.equal(isFull(startBuffer(m, cjk, 0), policy), true);
  for (const s of ["", "ascii", "é", "日本", "😀", "a\ud800b", "\udc00", "x😀é日\ud83d"]) {
    const expected = enc.encode(s).length; // a lone surrogate is encoded as U+FFFD
    assert.equal(utf8Length(s), expected, JSON.stringify(s));
  }
});

Deno.test("progressKey() and gapKey() read like object keys, whatever slashes the prefix has", () => {
  assert.equal(progressKey("raw", "logs", 3), "raw/logs/progress/3.json");
  assert.equal(progressKey("", "logs", 3), "logs/progress/3.json");
  assert.equal(progressKey("/a/b/", "logs", 3), "a/b/logs/progress/3.json");
  const gap = { from: "10", to: "39" };
  assert.equal(gapKey("raw", "logs", 3, gap), "raw/logs/gaps/3-10-39.json");
  assert.equal(gapKey("", "logs", 3, gap), "logs/gaps/3-10-39.json");
});

Deno.test("parseObjectKey() reads back what objectKey() writes, for its partition only", () => {
  const first = { topic: "logs", partition: 4, offset: "1200", timestamp: "0" };
  assert.deepEqual(parseObjectKey(objectKey("raw", first), 4), { first: 1200n, log: 0 });
  assert.deepEqual(parseObjectKey(objectKey("raw", { ...first, log: 77 }), 4), {
    first: 1200n,
    log: 77,
  });
  assert.equal(parseObjectKey(objectKey("raw", first), 14), null);
  assert.equal(parseObjectKey("raw/logs/x/4-1.ndjson.gz.tmp", 4), null);
});
