/**
 * Rules change without a restart, on the real detector process: an edit of
 * the rules file is applied and keeps the windows of unchanged rules, a bad
 * file is rejected (logged, old rules keep running), a symlink swap (no event
 * on the watched file) is seen by the path check, SIGHUP reads the file again, and
 * `GET /api/rules` shows the rules in force and their version.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/wait";
import { type LogLine, spawnService } from "@vigil/tools/testing/services";
import { appendEvents, consumedUpTo, readRows } from "./_harness.ts";

interface RulesReply {
  version: { hash: string; loaded_at: string; source: string };
  last_rejected: { trigger: string; reason: string } | null;
  rules: { cooldown: number; logs: { error_spike: { threshold: number } } };
}

Deno.test(
  "detector reloads rules.json on change and SIGHUP, rejects a bad file and keeps windows",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "vigil-rules-" }));
    const path = `${dir}/rules.json`;
    const write = (file: string, rules: unknown) =>
      Deno.writeTextFile(file, typeof rules === "string" ? rules : JSON.stringify(rules));
    // rules.json is a symlink to a.json (the way Kubernetes mounts a ConfigMap).
    await write(`${dir}/a.json`, { logs: { error_spike: { threshold: 5 } } });
    await Deno.symlink(`${dir}/a.json`, path);
    try {
      await withPg(({ url, sql }) =>
        withRedis(async ({ redis, keys, prefix }) => {
          const detector = await spawnService(
            "detector",
            {
              DATABASE_URL: url,
              VIGIL_PREFIX: prefix,
              DETECTOR_PORT: "0",
              DETECTOR_RULES_FILE: path,
              DETECTOR_BLOCK: "100ms",
              LOG_LEVEL: "info",
            },
            [],
            { allowRead: [dir] },
          );
          try {
            const port = await detector.opsPort();
            const rules = async () =>
              await (await fetch(`http://127.0.0.1:${port}/api/rules`)).json() as RulesReply;
            const saw = (match: (l: LogLine) => boolean, what: string) =>
              detector.waitForLine(match, what, 20_000);
            const r0 = await rules();
            assert.equal(r0.rules.logs.error_spike.threshold, 5);
            assert.match(r0.version.hash, /^[0-9a-f]{64}$/);
            assert.equal(r0.version.source, path);
            assert.equal(r0.last_rejected, null);

            const base = Date.now() - 60_000;
            const error = (i: number) => ({
              timestamp: new Date(base + i * 1000).toISOString(),
              service: "pay",
              level: "ERROR",
              message: "boom",
            });
            const ids = await appendEvents(redis, keys, "logs", [0, 1, 2, 3].map(error));
            await waitFor(() => consumedUpTo(redis, keys, "logs", ids.at(-1)!), {
              what: "4 errors consumed before the reload",
            });
            assert.equal((await readRows(sql)).length, 0, "4 errors: under the threshold 5");

            // 1. The file changes (the target of the link, in place): failed_message changes,
            // error_spike does not, so its window (4 errors) survives.
            await write(`${dir}/a.json`, {
              logs: { error_spike: { threshold: 5 }, failed_message: { contains: "boom!" } },
            });
            await saw(
              (l) => l.msg === "rules reloaded" && l.trigger === "file changed",
              "the reload after the edit",
            );
            const r1 = await rules();
            assert.notEqual(r1.version.hash, r0.version.hash);
            assert.ok(r1.version.loaded_at >= r0.version.loaded_at);
            await appendEvents(redis, keys, "logs", [error(4)]);
            await waitFor(async () => (await readRows(sql)).some((r) => r.rule === "error_spike"), {
              what: "error_spike from 4 errors before the reload and 1 after",
            });

            // 2. A bad file is rejected with its reason; the old rules keep running.
            await write(`${dir}/a.json`, { logs: { error_spike: { threshold: 0 } } });
            const rejected = await saw(
              (l) => l.msg === "rules file rejected: the rules in force keep running",
              "the rejection",
            );
            assert.match(String(rejected.reason), /logs\.error_spike\.threshold/);
            const r2 = await rules();
            assert.equal(r2.version.hash, r1.version.hash);
            assert.match(r2.last_rejected!.reason, /logs\.error_spike\.threshold/);
            // /health stays 200 but warns: a restart would refuse the file on disk.
            const health = async () =>
              await (await fetch(`http://127.0.0.1:${port}/health`)).json();
            const h2 = await health();
            assert.equal(h2.status, "warn", JSON.stringify(h2));
            assert.equal(h2.checks.rules, "warn");
            assert.match(h2.details.rules.reason, /logs\.error_spike\.threshold/);
            // Still detecting with the old rules: a failed_message on "boom!".
            await appendEvents(redis, keys, "logs", [{ ...error(5), message: "BOOM! again" }]);
            await waitFor(
              async () => (await readRows(sql)).some((r) => r.rule === "failed_message"),
              { what: "failed_message with the rules in force" },
            );

            // 3. The link is swapped to another file (no event on the watched file): the path
            // check sees it; a SIGHUP then reads the same rules.
            await write(`${dir}/b.json`, { cooldown: "1m" });
            await Deno.symlink(`${dir}/b.json`, `${dir}/next`);
            await Deno.rename(`${dir}/next`, path);
            await waitFor(async () => (await rules()).rules.cooldown === 60_000, {
              what: "the swapped link's rules",
            });
            await detector.kill("SIGHUP");
            await saw(
              (l) => l.msg === "rules file read: no change" && l.trigger === "SIGHUP",
              "the read on SIGHUP",
            );
            const r3 = await rules();
            assert.equal(r3.rules.cooldown, 60_000);
            assert.equal(r3.rules.logs.error_spike.threshold, 20, "b.json: the defaults");
            assert.equal(r3.last_rejected, null);
            assert.equal((await health()).checks.rules, "ok");
            assert.ok(
              detector.lines().some((l) => l.msg === "rules in force changed"),
              "the evaluators were reconfigured",
            );
          } finally {
            const status = await detector.stop();
            assert.equal(status.code, 0, detector.tail());
          }
        })
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
