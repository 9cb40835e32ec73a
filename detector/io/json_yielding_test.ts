import assert from "node:assert/strict";
import { stringifyYielding } from "./json_yielding.ts";

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
