import assert from "node:assert/strict";
import { findDuplicateKey } from "./duplicate_keys.ts";

Deno.test("findDuplicateKey() finds a key repeated in one object, at any depth, after unescaping", async (t) => {
  const cases: [string, string | undefined][] = [
    ['{"a":1,"b":2}', undefined],
    ['{"a":1,"a":2}', "a"],
    ['{"a":1,"b":{"a":2}}', undefined],
    ['{"a":{"x":1,"x":2}}', "x"],
    ['{"a":[{"x":1},{"x":2}]}', undefined],
    ['{"a":[{"x":1,"y":[1,{"z":1,"z":2}]}]}', "z"],
    ['{"a":1,"\\u0061":2}', "a"],
    ['{"a\\"b":1,"a\\"b":2}', 'a"b'],
    ['{"a":"\\"b\\":1,","b":2}', undefined],
    ['{"a":"x","b":"a"}', undefined],
    ['{ "user_id" : "u1" ,\n "user_id" : "u2" }', "user_id"],
    ['[{"a":1},{"a":1}]', undefined],
    ['{"":1,"":2}', ""],
    ["{}", undefined],
    ['"a"', undefined],
  ];
  for (const [text, expected] of cases) {
    await t.step(text, () => {
      JSON.parse(text); // valid JSON only
      assert.equal(findDuplicateKey(text), expected);
    });
  }
});
