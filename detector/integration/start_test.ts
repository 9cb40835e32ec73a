/**
 * The detector's HTTP port taken: it logs "cannot start detector" naming
 * DETECTOR_PORT and exits 1, like every other service (it threw an uncaught
 * error with a stack trace).
 */
import { assertMethodAnswers } from "@vigil/tools/testing/http";
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withPg } from "@vigil/tools/testing/pg";
import { spawnService } from "@vigil/tools/testing/services";

Deno.test(
  "detector with its port taken says so, naming DETECTOR_PORT, and exits 1",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await withPg(({ url }) =>
        withRedis(async ({ prefix }) => {
          const detector = await spawnService("detector", {
            DATABASE_URL: url,
            VIGIL_PREFIX: prefix,
            DETECTOR_PORT: String(taken.addr.port),
            LOG_LEVEL: "info",
          });
          const status = await detector.status;
          assert.equal(status.code, 1, detector.tail());
          const line = detector.lines().find((l) => l.msg === "cannot start detector");
          assert.ok(line, detector.tail());
          assert.equal(line.level, "error");
          assert.match(
            (line.error as { message: string }).message,
            new RegExp(`:${taken.addr.port} is already in use .*: stop it or set DETECTOR_PORT$`),
          );
          assert.ok(
            !detector.lines().some((l) => l.raw && /Uncaught|^\s+at /.test(String(l.msg))),
            `no stack trace:\n${detector.tail()}`,
          );
        })
      );
    } finally {
      taken.close();
    }
  },
);

Deno.test(
  "the detector answers a wrong method on its routes 405 with Allow, an unknown path 404",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withPg(({ url }) =>
      withRedis(async ({ prefix }) => {
        const detector = await spawnService("detector", {
          DATABASE_URL: url,
          VIGIL_PREFIX: prefix,
          DETECTOR_PORT: "0",
          LOG_LEVEL: "info",
        });
        try {
          const base = `http://127.0.0.1:${await detector.opsPort()}`;
          await assertMethodAnswers(base, [
            ["POST", "/health", 405, "GET, HEAD"],
            ["DELETE", "/metrics", 405, "GET, HEAD"],
            ["POST", "/api/rules", 405, "GET, HEAD"],
            ["PUT", "/api/alerts/status", 405, "GET, HEAD"],
            ["GET", "/api/alerts/evaluate", 405, "POST"],
            ["HEAD", "/health", 200, null],
            ["POST", "/nope", 404, null],
          ]);
        } finally {
          await detector.stop();
        }
      })
    );
  },
);
