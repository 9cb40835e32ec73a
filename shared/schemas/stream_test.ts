import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { deadLetterFields, deadLetterSchema, fieldsToObject, rawExcerpt } from "./stream.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

Deno.test("rawExcerpt() keeps a bounded prefix cut on a character, with the whole size and SHA-256", () => {
  const text = "€".repeat(2000); // 6000 bytes, 3 per character
  const e = rawExcerpt(text, 4096);
  assert.equal(e.encoding, "utf8");
  assert.equal(e.raw, "€".repeat(1365), "4095 bytes: the 4096th would split a character");
  assert.equal(e.size, 6000);
  assert.equal(e.sha256, sha(text));
  const small = rawExcerpt("héllo");
  assert.deepEqual(small, { raw: "héllo", encoding: "utf8", size: 6, sha256: sha("héllo") });
  const bytes = Uint8Array.from([0x61, 0xff, 0xfe, 0x00, 0x62]);
  const bin = rawExcerpt(bytes, 3);
  assert.equal(bin.encoding, "base64");
  assert.deepEqual([...Uint8Array.from(atob(bin.raw), (c) => c.charCodeAt(0))], [0x61, 0xff, 0xfe]);
  assert.equal(bin.size, 5);
  assert.equal(bin.sha256, sha(bytes));
  assert.equal(rawExcerpt("", 10).sha256, sha(""));
});

Deno.test("deadLetterFields() writes a bounded raw with size and SHA-256 that deadLetterSchema reads", () => {
  const raw = JSON.stringify({ message: "x".repeat(10_000) });
  const fields = deadLetterFields({
    source: "detector",
    reason: "invalid logs event: level: Invalid option",
    raw,
    stream: "vigil:events:logs",
    streamId: "1-1",
    ts: 5,
    topic: "logs",
    partition: "2",
    offset: "40",
  });
  const d = deadLetterSchema.parse(fieldsToObject(fields));
  assert.equal(d.raw, raw.slice(0, 4096));
  assert.equal(d.size, raw.length);
  assert.equal(d.sha256, sha(raw));
  assert.deepEqual([d.source, d.stream, d.stream_id, d.topic, d.partition, d.offset, d.ts], [
    "detector",
    "vigil:events:logs",
    "1-1",
    "logs",
    2,
    "40",
    5,
  ]);
  const short = deadLetterSchema.parse(
    fieldsToObject(deadLetterFields({
      source: "notifier",
      reason: "r",
      raw: "{}",
      stream: "s",
      streamId: "1-2",
      ts: 1,
      maxRawBytes: 1,
    })),
  );
  assert.equal(short.raw, "{");
  assert.equal(short.size, 2);
});

Deno.test("deadLetterSchema reads a bridge gap entry", () => {
  const d = deadLetterSchema.parse({
    source: "bridge",
    reason:
      "gap: offsets 100..199 (100 messages) were deleted by Kafka before the bridge read them",
    raw: "",
    encoding: "utf8",
    topic: "logs",
    partition: "0",
    offset: "100",
    from: "100",
    to: "199",
    count: "100",
    ts: "7",
  });
  assert.deepEqual([d.from, d.to, d.count], ["100", "199", 100]);
  assert.equal(
    deadLetterSchema.safeParse({ source: "b", reason: "r", raw: "", ts: 1, sha256: "x" }).success,
    false,
  );
});
