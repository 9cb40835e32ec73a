import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { createEvaluator } from "../core/evaluator.ts";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import { type CheckpointWrite, createCheckpointer } from "./checkpoint.ts";

function memoryStore() {
  const saved: { lastId: string; state: string; savedAt: number }[] = [];
  return {
    saved,
    load: () => Promise.resolve(saved.at(-1) ?? null),
    async save(c: CheckpointWrite) {
      let state = "";
      for await (const chunk of c.chunks) state += chunk;
      saved.push({ lastId: c.lastId, state, savedAt: c.savedAt });
    },
  };
}

Deno.test("createCheckpointer() waits the state's size at charsPerSecond between checkpoints", async () => {
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  const store = memoryStore();
  let t = 1_000_000;
  const checkpointer = createCheckpointer({
    evaluator,
    store,
    intervalMs: 1000,
    log: silentLogger(),
    now: () => t,
    charsPerSecond: 100, // the empty logs state is ~200 characters: ~2 s apart
  });
  checkpointer.committed("1-0", false);
  await checkpointer.flush();
  const size = store.saved[0]!.state.length;
  assert.ok(size > 150 && size < 400, `state of ${size} characters`);
  t += 1500; // past intervalMs, not past size / rate
  checkpointer.committed("2-0", false);
  await checkpointer.flush();
  assert.equal(store.saved.length, 1, "postponed");
  t += Math.ceil((size / 100) * 1000) - 1500;
  checkpointer.committed("3-0", false);
  await checkpointer.flush();
  assert.deepEqual(store.saved.map((c) => c.lastId), ["1-0", "3-0"]);
  // Idle: what was postponed is written at once.
  t += 10;
  checkpointer.committed("4-0", false);
  await checkpointer.idle();
  await checkpointer.flush();
  assert.deepEqual(store.saved.map((c) => c.lastId), ["1-0", "3-0", "4-0"]);
});

Deno.test("createCheckpointer() warns of a failing save once a minute, then says it saved again", async () => {
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  const store = memoryStore();
  let failing = true;
  const lines: Record<string, unknown>[] = [];
  let t = 1_000_000;
  const checkpointer = createCheckpointer({
    evaluator,
    store: {
      load: store.load,
      save: (c) => failing ? Promise.reject(new Error("OOM command not allowed")) : store.save(c),
    },
    intervalMs: 1000,
    log: createLogger({ service: "test", level: "debug", write: (l) => lines.push(JSON.parse(l)) }),
    now: () => t,
  });
  // Redis refuses for 90 s; the detector commits (and tries a checkpoint) every second.
  for (let i = 1; i <= 90; i++, t += 1000) {
    checkpointer.committed(`${i}-0`, false);
    await checkpointer.flush();
  }
  const warned = lines.filter((l) => l.level === "warn");
  assert.deepEqual(warned.map((l) => [l.msg, l.repeated]), [
    ["cannot save checkpoint", undefined],
    ["cannot save checkpoint", 59],
  ]);
  assert.equal(lines.filter((l) => l.level === "debug").length, 88, "the others at debug");
  failing = false;
  checkpointer.committed("91-0", false);
  await checkpointer.flush();
  assert.deepEqual(store.saved.map((c) => c.lastId), ["91-0"]);
  assert.deepEqual(
    lines.filter((l) => l.level === "info").map((l) => [l.msg, l.failures]),
    [["checkpoint saved again", 90]],
  );
});

Deno.test("createCheckpointer() keeps checkpointing after the clock steps back", async () => {
  // NTP (or a VM resumed from a snapshot) sets the clock back an hour after a checkpoint: the time
  // since it was negative for an hour, so none was written for an hour under load, and a crash
  // then replayed (or, past the stream's length, lost) an hour of windows.
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  const store = memoryStore();
  let t = 10_000_000;
  const checkpointer = createCheckpointer({
    evaluator,
    store,
    intervalMs: 1000,
    log: silentLogger(),
    now: () => t,
  });
  checkpointer.committed("1-0", false);
  await checkpointer.flush();
  t -= 3_600_000;
  for (let i = 2; i <= 5; i++, t += 1000) {
    checkpointer.committed(`${i}-0`, false);
    await checkpointer.flush();
  }
  assert.deepEqual(store.saved.map((c) => c.lastId), ["1-0", "2-0", "3-0", "4-0", "5-0"]);
});
