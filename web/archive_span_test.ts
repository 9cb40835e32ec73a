import assert from "node:assert/strict";
import { archiveLine } from "@vigil/archive/format";
import { createLastOffsetCache, scanLastOffset } from "./archive_span.ts";
import { gzip } from "@vigil/tools/testing/archive";

/** `bytes` as a stream (the body of an object). */
const stream = (bytes: Uint8Array) => new Blob([bytes.slice()]).stream();

/** The gzipped lines of offsets `from`..`to`, as the archive writes them. */
async function object(from: number, to: number) {
  const lines = [];
  for (let o = from; o <= to; o++) {
    lines.push(
      archiveLine({
        topic: "logs",
        partition: 0,
        offset: String(o),
        timestamp: "1",
        key: null,
        value: new TextEncoder().encode(`{"n":${o},"text":"${"x".repeat(200)}"}`),
      }) + "\n",
    );
  }
  return stream(await gzip(lines.join("")));
}

Deno.test("scanLastOffset() reads an object's archive lines to its last offset", async () => {
  assert.equal(await scanLastOffset(await object(100, 5000)), 5000n);
  assert.equal(await scanLastOffset(stream(await gzip(""))), -1n);
  // Another field order than the archive's: the whole line is read.
  assert.equal(await scanLastOffset(stream(await gzip('{"offset":"7","topic":"logs"}\n'))), 7n);
  await assert.rejects(scanLastOffset(stream(new Uint8Array([1]))));
  await assert.rejects(scanLastOffset(stream(await gzip('{"a":1}\n'))), /no offset/);
});

Deno.test("createLastOffsetCache() keeps the last offsets of settled objects only, bounded, one read at a time", async () => {
  const reads: string[] = [];
  const lasts: Record<string, bigint> = { a: 10n, b: 20n, c: 30n };
  const cache = createLastOffsetCache((key) => {
    reads.push(key);
    return new Promise((r) => setTimeout(() => r(lasts[key] ?? null), 5));
  }, 2);
  const yes = () => true;
  assert.equal(await cache("a", yes), 10n);
  assert.equal(await cache("a", yes), 10n);
  assert.deepEqual(reads, ["a"]);
  // Not settled (perhaps replaced later): read every time.
  await cache("b", () => false);
  await cache("b", () => false);
  assert.deepEqual(reads.slice(1), ["b", "b"]);
  // The events of one object asked together, whatever their offsets: one read.
  assert.deepEqual(
    await Promise.all([cache("c", yes), cache("c", yes)]),
    [30n, 30n],
  );
  assert.deepEqual(reads.slice(3), ["c"]);
  // No such object: null, not cached.
  assert.equal(await cache("gone", yes), null);
  assert.deepEqual(reads.slice(4), ["gone"]);
  // At most 2 objects: "a" went first.
  await cache("b", yes);
  await cache("a", yes);
  assert.deepEqual(reads.slice(5), ["b", "a"]);
});
