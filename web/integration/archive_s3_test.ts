import assert from "node:assert/strict";
import { withS3rver } from "@vigil/tools/testing/s3";
import { objectKey } from "@vigil/archive/format";
import { createS3Store } from "@vigil/archive/store";
import { createS3Lister, findArchiveObject } from "../archive_lookup.ts";

// s3rver and the AWS SDK keep sockets the sanitizers would flag; both are closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const BUCKET = "vigil-web-test";

Deno.test(
  "createS3Lister() finds the object the archive stored in S3",
  opts,
  async () => {
    await withS3rver(BUCKET, async ({ client }) => {
      const store = createS3Store({ client, bucket: BUCKET });
      const t = Date.parse("2025-06-01T08:30:00Z");
      // 100 batches of partition 4 in one hour. (s3rver cannot answer a truncated listing under
      // Deno, so paging past 1,000 keys is not exercised here.)
      for (let i = 0; i < 100; i += 25) {
        await Promise.all(Array.from({ length: 25 }, (_, j) =>
          store.put(
            objectKey("raw", {
              topic: "transactions",
              partition: 4,
              offset: String((i + j) * 10),
              timestamp: String(t),
            }),
            new Uint8Array([1]),
          )));
      }
      await store.put(
        objectKey("raw", {
          topic: "transactions",
          partition: 5,
          offset: "0",
          timestamp: String(t),
        }),
        new Uint8Array([1]),
      );
      const lister = createS3Lister({ client, bucket: BUCKET });
      const keys = await lister.list("raw/transactions/dt=2025-06-01/hour=08/4-");
      assert.equal(keys.length, 100);
      const found = await findArchiveObject((p) => lister.list(p), {
        prefix: "raw",
        topic: "transactions",
        partition: 4,
        offset: "995",
        timeMs: t + 60_000,
      });
      assert.equal(found.object, "raw/transactions/dt=2025-06-01/hour=08/4-990.ndjson.gz");
      const none = await findArchiveObject((p) => lister.list(p), {
        prefix: "raw",
        topic: "transactions",
        partition: 6,
        offset: "1",
        timeMs: t,
      });
      assert.equal(none.object, null);
    });
  },
);
