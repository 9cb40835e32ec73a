import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { createStreamFull } from "./stream_full.ts";

const FULL = new Error(
  "FULL vigil:events:{logs:0}: 5000 entries not yet processed by consumer group detector " +
    "(MAXLEN 5000): waiting for it to catch up",
);

Deno.test("createStreamFull() counts every refusal, logs one line per 10 s with how many it covers", () => {
  let t = 0;
  const lines: Record<string, unknown>[] = [];
  let count = 0;
  const full = createStreamFull({
    log: createLogger({ service: "bridge", write: (l) => lines.push(JSON.parse(l)) }),
    counter: { inc: () => count++ },
    now: () => t,
  });
  assert.equal(full.health(), true);
  assert.equal(full.seen(new Error("ECONNRESET"), {}), false, "a Redis failure is not FULL");
  for (let i = 0; i < 50; i++, t += 500) assert.equal(full.seen(FULL, { partition: 0 }), true);
  assert.equal(count, 50);
  // 50 refusals over 25 s: lines at 0 s, 10 s and 20 s.
  assert.deepEqual(lines.map((l) => l.refusals), [1, 20, 20]);
  assert.match(
    String(lines[0]!.detail),
    /^vigil:events:\{logs:0\}: 5000 entries not yet processed/,
  );
  const health = full.health();
  assert.ok(health !== true && health.status === "warn");
  t += 30_001;
  assert.equal(full.health(), true, "no refusal for 30 s: healthy again");
});
