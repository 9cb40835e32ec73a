/**
 * A path setting outside what its `deno task` may use (least privilege: a
 * task names its paths) stops the service at start with the variable, the
 * place that works and the flag to change, instead of Deno's "run again with
 * the --allow-read flag" at the first use (an archive batch, a digest, an
 * evidence lookup) or a start that waits on a file it can never read.
 */
import assert from "node:assert/strict";
import { spawnService } from "@vigil/tools/testing/services";

const CASES: [task: string, variable: string, access: string[], hint: string][] = [
  ["archive", "ARCHIVE_DIR", ["read", "write"], "a folder under ./data"],
  ["web", "ARCHIVE_DIR", ["read"], "a folder under ./data/archive"],
  ["notifier", "OUTBOX_DIR", ["read", "write"], "a folder under ./data"],
  ["notifier", "NOTIFIER_ROUTES_FILE", ["read"], "a file under ./data"],
  ["detector", "DETECTOR_RULES_FILE", ["read"], "detector/rules.json (edit it)"],
];

Deno.test("a path setting the task may not use stops the service at start, saying what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vigil-paths-" });
  const file = `${dir}/settings.json`;
  await Deno.writeTextFile(file, "{}");
  try {
    for (const [task, variable, access, hint] of CASES) {
      const path = variable.endsWith("_FILE") ? file : dir;
      const service = await spawnService(task, {
        [variable]: path,
        // Nothing else may stand in the way: no bucket, no SMTP server, free ports.
        S3_BUCKET: "",
        SMTP_URL: "",
        SMTP_HOST: "",
        ARCHIVE_PORT: "0",
        WEB_PORT: "0",
        NOTIFIER_PORT: "0",
        DETECTOR_PORT: "0",
      });
      const status = await service.status;
      const output = service.tail(20);
      assert.equal(status.code, 2, `${task} ${variable}:\n${output}`);
      assert.deepEqual(
        service.lines().map((l) => l.msg),
        [
          `Cannot start ${task}: ${variable} is outside what this service's deno task may ` +
          `${access.join(" and ")} (a task may use only the paths its line in deno.json names): ` +
          `use ${hint}, or add the path to the task's ` +
          `${access.map((a) => `--allow-${a}`).join(" and ")} (got "${path}")`,
        ],
        `${task} ${variable}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
