import assert from "node:assert/strict";
import { parseScoreMember, scoreMember } from "./score_member.ts";

Deno.test("parseScoreMember() reads the colon form, with the expected band when written", () => {
  assert.deepEqual(parseScoreMember("1000:0.5:42", 1000), { ts: 1000, value: 42, score: 0.5 });
  assert.deepEqual(parseScoreMember("1000:0.5:42:30:50", 1000), {
    ts: 1000,
    value: 42,
    score: 0.5,
    low: 30,
    high: 50,
  });
  assert.deepEqual(parseScoreMember("1000:-1.5e-3:-4:-10:2.5", 0), {
    ts: 1000,
    value: -4,
    score: -0.0015,
    low: -10,
    high: 2.5,
  });
  // Score not known yet.
  assert.deepEqual(parseScoreMember("1000::42", 1000), { ts: 1000, value: 42, score: null });
  assert.deepEqual(parseScoreMember("1000:null:42:1:2", 1000), {
    ts: 1000,
    value: 42,
    score: null,
    low: 1,
    high: 2,
  });
});

Deno.test("parseScoreMember() drops a band that is incomplete, not numeric or reversed", () => {
  const plain = { ts: 1000, value: 42, score: 0.5 };
  assert.deepEqual(parseScoreMember("1000:0.5:42:30", 1000), plain);
  assert.deepEqual(parseScoreMember("1000:0.5:42:abc:50", 1000), plain);
  assert.deepEqual(parseScoreMember("1000:0.5:42:a1b2c3", 1000), plain, "a uniqueness suffix");
  assert.deepEqual(parseScoreMember("1000:0.5:42:60:50", 1000), plain);
  assert.deepEqual(parseScoreMember('{"ts":1,"value":2,"score":0.1,"low":5}', 1), {
    ts: 1,
    value: 2,
    score: 0.1,
  });
  assert.deepEqual(parseScoreMember('{"value":2,"low":1,"high":3}', 7), {
    ts: 7,
    value: 2,
    score: null,
    low: 1,
    high: 3,
  });
});

Deno.test("parseScoreMember() refuses members of neither form", () => {
  for (const m of ["garbage", "1:2", "x:1:2", "1:1:y", "{bad json", '{"ts":"1","value":2}']) {
    assert.equal(parseScoreMember(m, 0), null, m);
  }
});

Deno.test("scoreMember() writes what parseScoreMember() reads back", () => {
  assert.equal(scoreMember({ t: 1000, score: 0.5, value: 42 }), "1000:0.5:42");
  const banded = { t: 1000, score: -0.0015, value: -4, low: -10, high: 2.5 };
  assert.equal(scoreMember(banded), "1000:-0.0015:-4:-10:2.5");
  assert.deepEqual(parseScoreMember(scoreMember(banded), 0), {
    ts: 1000,
    score: -0.0015,
    value: -4,
    low: -10,
    high: 2.5,
  });
  // A band needs both ends.
  assert.equal(scoreMember({ t: 1, score: 2, value: 3, low: 0 }), "1:2:3");
});
