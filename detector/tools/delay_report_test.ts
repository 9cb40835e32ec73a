import assert from "node:assert/strict";
import { windowDelays } from "./delay_report.ts";

Deno.test("windowDelays() finds the first alarm inside each window", () => {
  const scores = [0, 0.6, 0, 0, 0.2, 0.5, 0.9, 0, 0, 0];
  assert.deepEqual(windowDelays("f", scores, [[2, 6], [7, 9], [0, 1]]), [
    { file: "f", start: 2, end: 6, firstAlarm: 5, delay: 3 },
    { file: "f", start: 7, end: 9, firstAlarm: null, delay: null },
    { file: "f", start: 0, end: 1, firstAlarm: 1, delay: 1 },
  ]);
});
