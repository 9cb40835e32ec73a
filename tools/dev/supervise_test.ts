/**
 * The dev runner's decision when a process exits. A service stopped on a configuration error
 * (exit 2) is not started again; its line must say how to get it back once fixed: the
 * environment and the files a service reads at start are read again only by a new start, and
 * the runner has no way to start one service alone.
 */
import assert from "node:assert/strict";
import { exitPlan } from "./supervise.ts";

const running = { stopping: false, delayMs: 2000 };

Deno.test("a crashed service is started again after the delay", () => {
  assert.deepEqual(exitPlan("detector", { code: 137, signal: "SIGKILL" }, running), {
    line: "[dev] detector exited with code 137 (SIGKILL); starting it again in 2 s",
    restart: true,
  });
  assert.equal(exitPlan("notifier", { code: 1, signal: null }, running).restart, true);
});

Deno.test("a clean exit, the dev Kafka and a stopping runner are not restarted", () => {
  assert.deepEqual(exitPlan("web", { code: 0, signal: null }, running), {
    line: "[dev] web exited with code 0",
    restart: false,
  });
  assert.equal(exitPlan("kafka", { code: 1, signal: null }, running).restart, false);
  const stopping = { stopping: true, delayMs: 1000 };
  assert.equal(exitPlan("bridge", { code: 1, signal: null }, stopping).restart, false);
});

Deno.test("a configuration error (exit 2) is not restarted, and the line says how to start it again once fixed", () => {
  const plan = exitPlan("detector", { code: 2, signal: null }, running);
  assert.equal(plan.restart, false);
  assert.match(plan.line, /^\[dev\] detector exited with code 2: its configuration is wrong/);
  assert.match(plan.line, /not restarted/);
  // Once the file or the variable is fixed, only a new start of the runner brings it back.
  assert.match(plan.line, /fix it, then stop this runner \(Ctrl-C\) and start it again/);
});
