import assert from "node:assert/strict";
import { parseArchiveConfig } from "./config.ts";
import { ConfigError } from "@vigil/shared/config";

Deno.test("ARCHIVE_PREFIX may not climb out of the archive folder", () => {
  for (const prefix of ["..", "../etc", "raw/../../x", "./raw"]) {
    assert.throws(
      () => parseArchiveConfig({ ARCHIVE_PREFIX: prefix }),
      /^ConfigError: Cannot start archive: ARCHIVE_PREFIX must not have a \. or \.\. part/,
      prefix,
    );
  }
  for (const prefix of ["raw", "a/b", "/a/b/", "v1.2", ""]) {
    assert.equal(parseArchiveConfig({ ARCHIVE_PREFIX: prefix }).ARCHIVE_PREFIX, prefix || "raw");
  }
});

Deno.test("ARCHIVE_PREFIX with an empty part (a//b) is refused at start: the local archive refuses every such key", () => {
  for (const prefix of ["raw//x", "a/b//c", "/a//b/"]) {
    assert.throws(
      () => parseArchiveConfig({ ARCHIVE_PREFIX: prefix }),
      /^ConfigError: Cannot start archive: ARCHIVE_PREFIX must not have an empty part/,
      prefix,
    );
  }
});

Deno.test("the archive reads only its own stores: a bad REDIS_URL or DATABASE_URL does not stop it", () => {
  const c = parseArchiveConfig({
    REDIS_URL: "http://not-redis",
    DATABASE_URL: "mysql://x",
    VIGIL_PREFIX: "a b",
  });
  assert.equal(c.ARCHIVE_PORT, 9107);
  assert.equal("REDIS_URL" in c || "DATABASE_URL" in c, false);
});

Deno.test("S3_ENDPOINT without a scheme stops the archive at start (it waited for the store forever)", () => {
  assert.equal(
    parseArchiveConfig({ S3_BUCKET: "vigil", S3_ENDPOINT: "https://s3.example.com" }).S3_ENDPOINT,
    "https://s3.example.com",
  );
  assert.throws(
    () => parseArchiveConfig({ S3_BUCKET: "vigil", S3_ENDPOINT: "minio:9000" }),
    /^ConfigError: Cannot start archive: S3_ENDPOINT is not a valid URL/,
  );
});

Deno.test("archive timeouts out of range are refused in units, not in bare milliseconds", () => {
  assert.throws(
    () => parseArchiveConfig({ ARCHIVE_SESSION_TIMEOUT: "5s" }),
    /ARCHIVE_SESSION_TIMEOUT must be between 6s and 5m \(got "5s"\)/,
  );
  assert.throws(
    () => parseArchiveConfig({ S3_REQUEST_TIMEOUT: "500ms" }),
    /S3_REQUEST_TIMEOUT must be between 1s and 10m \(got "500ms"\)/,
  );
});

Deno.test("S3 settings without S3_BUCKET stop the archive at start (it archived to ARCHIVE_DIR instead)", () => {
  for (
    const env of [
      { S3_ENDPOINT: "http://minio:9000" },
      { S3_ACCESS_KEY_ID: "AKIA", S3_SECRET_ACCESS_KEY: "secret-secret" },
    ]
  ) {
    assert.throws(
      () => parseArchiveConfig(env),
      (e: Error) =>
        e instanceof ConfigError &&
        new RegExp(
          `^Cannot start archive: ${
            Object.keys(env)[0]
          } needs S3_BUCKET \\(without it the archive is the local folder ARCHIVE_DIR\\)`,
        ).test(e.message) && !e.message.includes("secret-secret"),
      JSON.stringify(env),
    );
  }
  const c = parseArchiveConfig({
    S3_BUCKET: "vigil",
    S3_ENDPOINT: "http://minio:9000",
    S3_ACCESS_KEY_ID: "AKIA",
    S3_SECRET_ACCESS_KEY: "secret",
  });
  assert.equal(c.S3_ENDPOINT, "http://minio:9000");
  // Empty means unset (`S3_ENDPOINT=` in a compose file).
  assert.equal(parseArchiveConfig({ S3_ENDPOINT: "", S3_ACCESS_KEY_ID: " " }).S3_BUCKET, undefined);
});
