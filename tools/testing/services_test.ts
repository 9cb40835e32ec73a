import assert from "node:assert/strict";
import { DIE_WITH_PARENT } from "../dev/tasks.ts";
import { ROOT } from "./services.ts";
import { spawnEval } from "./eval_process.ts";
import { waitFor } from "./wait.ts";

const alive = (pid: number) => {
  try {
    Deno.kill(pid, "SIGCONT"); // a signal that changes nothing: only asks whether it exists
    return true;
  } catch {
    return false;
  }
};

Deno.test({
  name: "spawnService(): a test process that dies (SIGKILL) takes its services with it",
  ignore: DIE_WITH_PARENT.length === 0,
  fn: async () => {
    // A stand-in for a test or benchmark: it starts the dev Kafka, says its pid, and is killed.
    const code = `
      import { spawnService } from "${new URL("./services.ts", import.meta.url).href}";
      const kafka = await spawnService("kafka", { KAFKA_DEV_BROKERS_FILE: "none", LOG_LEVEL: "warn" });
      await kafka.waitForLine((l) => typeof l.bootstrap === "string", "bootstrap");
      console.log(JSON.stringify({ pid: kafka.pid }));
      await new Promise(() => {});
    `;
    const parent = spawnEval(code, { cwd: ROOT, stderr: "inherit" });
    const text = await parent.readUntil("\n");
    const { pid } = JSON.parse(text.split("\n")[0]!) as { pid: number };
    try {
      assert.ok(alive(pid), "the service runs");
      parent.child.kill("SIGKILL");
      await parent.child.status;
      await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: "the orphaned service to stop" });
    } finally {
      if (alive(pid)) Deno.kill(pid, "SIGKILL");
      await parent.cancel();
    }
  },
});
