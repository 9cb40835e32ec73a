import assert from "node:assert/strict";
import { jsonChunks } from "./json_yielding.ts";

/** The whole text of {@link jsonChunks} as one string. */
async function stringifyYielding(value: unknown, budgetMs: number): Promise<string> {
  const chunks: string[] = [];
  for await (const c of jsonChunks(value, { budgetMs, chunkChars: Infinity })) chunks.push(c);
  return chunks.join("");
}

Deno.test("stringifyYielding() writes exactly what JSON.stringify writes", async () => {
  const big = Array.from({ length: 5000 }, (_, i) => ["user-" + i, [i, i * 1.5, -0, 1e21]]);
  const values: unknown[] = [
    { v: 1, a: big, b: { c: [1, 2, 3], d: null, e: 'x"y', u: undefined, inf: Infinity } },
    big,
    [],
    {},
    "s",
    3,
    null,
    { nested: { deeper: Array.from({ length: 4097 }, (_, i) => i) } },
  ];
  for (const v of values) assert.equal(await stringifyYielding(v, 0), JSON.stringify(v));
});

Deno.test("stringifyYielding() lets other tasks run during a large state", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  try {
    const big = Array.from({ length: 400_000 }, (_, i) => [i, i]);
    await stringifyYielding({ big }, 1);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, "a timer ran while serialising");
});

Deno.test("jsonChunks() hands out the text in chunks of about chunkChars", async () => {
  const big = Array.from({ length: 20_000 }, (_, i) => ["user-" + i, [i, i * 1.5]]);
  const value = { v: 1, big, small: [1, 2], tail: "x" };
  const chunks: string[] = [];
  for await (const c of jsonChunks(value, { chunkChars: 50_000, budgetMs: 0 })) chunks.push(c);
  assert.equal(chunks.join(""), JSON.stringify(value));
  assert.ok(chunks.length >= 8, `${chunks.length} chunks`);
  // A chunk is cut at the first boundary past chunkChars: one slice of 2048 elements at most more.
  for (const c of chunks) assert.ok(c.length < 50_000 + 60_000, `chunk of ${c.length}`);
});

Deno.test("jsonChunks() keeps every chunk under V8's large-object size by default", async () => {
  // A state shaped like 50,000 users' windows plus a few large series: no
  // chunk may reach 128 KiB, or it is allocated in the old generation.
  const windows = Array.from({ length: 50_000 }, (_, i) => [
    "user-" + i,
    Array.from({ length: 25 }, (_, k) => 1_733_000_000_000 + i * 7 + k),
  ]);
  const series = Array.from({ length: 300 }, (_, i) => ({ id: i, xs: Array(400).fill(i + 0.25) }));
  const value = { v: 1, rules: { user_spike: { windows }, metric_score: { series } } };
  const chunks: string[] = [];
  for await (const c of jsonChunks(value, { budgetMs: 0 })) chunks.push(c);
  assert.equal(chunks.join(""), JSON.stringify(value));
  const largest = Math.max(...chunks.map((c) => c.length));
  assert.ok(largest < 128 * 1024, `largest chunk ${largest} characters`);
  assert.ok(chunks.length > 50, `${chunks.length} chunks`);
});
