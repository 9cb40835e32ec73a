/**
 * `deno task detector` with DETECTOR_RULES_FILE outside what the task may
 * read: it stops at start with what to do, not Deno's "run again with the
 * --allow-read flag" (a flag `deno task` users do not pass).
 */
import assert from "node:assert/strict";
import { spawnService } from "@vigil/tools/testing/services";

Deno.test("detector: a rules file the task may not read stops the start with what to do", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.json`;
  await Deno.writeTextFile(path, "{}");
  try {
    const detector = await spawnService("detector", {
      DETECTOR_RULES_FILE: path,
      DETECTOR_PORT: "0",
    });
    const status = await detector.status;
    const output = detector.tail(20);
    assert.equal(status.code, 2, output);
    const error = detector.lines().find((l) => l.level === "error");
    assert.equal(
      error?.error,
      `Cannot load rules file ${path}: the detector may not read it (deno task detector may read ` +
        `detector/rules.json only): put the rules there, or add the path to the task's --allow-read`,
      output,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
