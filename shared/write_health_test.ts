import assert from "node:assert/strict";
import { createWriteHealth } from "./write_health.ts";

Deno.test("createWriteHealth() fails once writes of a key were refused for stuckAfterMs, and recovers", () => {
  let t = 0;
  const writes = createWriteHealth({ what: "append", stuckAfterMs: 60_000, now: () => t });
  assert.equal(writes.health(), true);
  writes.failed("logs:0", new Error("OOM command not allowed when used memory > 'maxmemory'"));
  t = 30_000;
  writes.failed("logs:0", new Error("OOM command not allowed when used memory > 'maxmemory'"));
  writes.stored("metrics:0"); // another partition's writes go through
  assert.equal(writes.health(), true, "a blip is not a failure");
  t = 61_000;
  writes.failed("logs:0", new Error("OOM command not allowed when used memory > 'maxmemory'"));
  assert.deepEqual(writes.health(), {
    status: "fail",
    message: "every append of logs:0 refused for 61 s",
    stuck: ["logs:0"],
    error: "OOM command not allowed when used memory > 'maxmemory'",
  });
  writes.stored("logs:0");
  assert.equal(writes.health(), true);
});

Deno.test("createWriteHealth() forgets a streak no longer retried here (the partition moved)", () => {
  let t = 0;
  const writes = createWriteHealth({ what: "append", stuckAfterMs: 1000, now: () => t });
  writes.failed("logs:0", "refused");
  t = 900;
  writes.failed("logs:0", "refused");
  t = 1500;
  writes.failed("logs:0", "refused");
  assert.equal((writes.health() as { status: string }).status, "fail");
  t = 2600; // no failure for longer than stuckAfterMs: nobody retries it here any more
  assert.equal(writes.health(), true);
  writes.failed("logs:0", "refused"); // a new streak starts
  t = 3500;
  assert.equal(writes.health(), true, "not stuck again before stuckAfterMs");
});
