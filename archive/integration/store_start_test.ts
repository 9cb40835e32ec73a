/**
 * The archive checks its store before it consumes: a bucket that does not
 * exist stops it at start with what to fix (exit 2), where it used to fail
 * every batch with one kafkajs stack trace per partition.
 */
import assert from "node:assert/strict";
import { withS3rver } from "@vigil/tools/testing/s3";
import { spawnService } from "@vigil/tools/testing/services";
import { startSilentServer } from "@vigil/tools/testing/silent_server";

Deno.test(
  "archive with a bucket that does not exist says so at start and exits 2",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    await withS3rver("vigil-archive", async ({ endpoint, accessKeyId, secretAccessKey }) => {
      const archive = await spawnService("archive", {
        S3_BUCKET: "no-such-bucket",
        S3_ENDPOINT: endpoint,
        S3_ACCESS_KEY_ID: accessKeyId,
        S3_SECRET_ACCESS_KEY: secretAccessKey,
        KAFKA_BROKERS: "127.0.0.1:1", // never reached
        ARCHIVE_PORT: "0",
      });
      const timer = setTimeout(() => archive.kill("SIGKILL"), 30_000); // before: it ran on
      const status = await archive.status;
      clearTimeout(timer);
      assert.equal(status.code, 2, archive.tail());
      const line = archive.lines().find((l) => l.level === "error");
      assert.equal(
        line?.msg,
        "cannot start archive: s3://no-such-bucket does not exist: create the bucket, or fix S3_BUCKET (and S3_ENDPOINT)",
        archive.tail(),
      );
    });
  },
);

Deno.test(
  "archive with a store that accepts connections and never answers gives up on each request after S3_REQUEST_TIMEOUT",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const silent = startSilentServer();
    const archive = await spawnService("archive", {
      S3_BUCKET: "silent-bucket",
      S3_ENDPOINT: `http://127.0.0.1:${silent.port}`,
      S3_ACCESS_KEY_ID: "key",
      S3_SECRET_ACCESS_KEY: "secret",
      S3_REQUEST_TIMEOUT: "1s",
      KAFKA_BROKERS: "127.0.0.1:1", // never reached
      ARCHIVE_PORT: "0",
    });
    try {
      // Before: the first request waited forever and the archive logged nothing at all.
      const line = await archive.waitForLine(
        (l) => l.msg === "cannot reach the archive store, retrying",
        "a retry of the store check",
        20_000,
      );
      assert.match(
        String((line.error as { message?: string } | undefined)?.message),
        /1000 ms requestTimeout/,
        archive.tail(),
      );
      assert.ok(
        silent.connections >= 3,
        `the SDK tried 3 times: ${silent.connections} connections`,
      );
    } finally {
      archive.kill("SIGKILL");
      await archive.status;
      await silent.close();
    }
  },
);
