import assert from "node:assert/strict";
import { createGeneration, GenerationEndedError } from "./kafka_generation.ts";

Deno.test("createGeneration() aborts a generation's signal at its end, until the next join", () => {
  const generation = createGeneration();
  const first = generation.signal;
  assert.equal(first.aborted, false);
  generation.end();
  assert.ok(first.aborted);
  assert.ok(first.reason instanceof GenerationEndedError);
  // Ended until the next join: work read meanwhile belongs to no generation.
  assert.equal(generation.signal, first);
  generation.begin();
  const second = generation.signal;
  assert.equal(second.aborted, false);
  generation.begin();
  assert.ok(second.aborted, "a join ends the generation before it");
  assert.equal(generation.signal.aborted, false);
});
