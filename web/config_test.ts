import assert from "node:assert/strict";
import { ConfigError } from "@vigil/shared/config";
import { parseWebConfig } from "./config.ts";

Deno.test("parseWebConfig() resolves defaults", () => {
  const c = parseWebConfig({});
  assert.equal(c.WEB_PORT, 8080);
  assert.equal(c.WEB_PUBLIC_READ, true);
  assert.equal(c.VIGIL_API_TOKEN, undefined);
  assert.equal(c.WEB_HEARTBEAT_INTERVAL, 10_000);
  assert.equal(c.ARCHIVE_PREFIX, "raw");
  assert.equal(c.ARCHIVE_DIR, "./data/archive");
  assert.equal(c.S3_BUCKET, undefined);
  const set = parseWebConfig({
    WEB_PORT: "9000",
    WEB_PUBLIC_READ: "false",
    VIGIL_API_TOKEN: "s3cret-token",
    WEB_HEARTBEAT_INTERVAL: "5s",
  });
  assert.equal(set.WEB_PORT, 9000);
  assert.equal(set.WEB_PUBLIC_READ, false);
  assert.equal(set.WEB_HEARTBEAT_INTERVAL, 5000);
});

Deno.test("parseWebConfig() names every bad variable and never echoes the token", () => {
  assert.throws(
    () =>
      parseWebConfig({
        WEB_PORT: "http",
        VIGIL_API_TOKEN: "short",
        WEB_PUBLIC_READ: "maybe",
        WEB_HEARTBEAT_INTERVAL: "100ms",
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const m = error.message;
      assert.match(m, /^Cannot start web: /);
      for (
        const v of ["WEB_PORT", "VIGIL_API_TOKEN", "WEB_PUBLIC_READ", "WEB_HEARTBEAT_INTERVAL"]
      ) {
        assert.match(m, new RegExp(v));
      }
      assert.doesNotMatch(m, /short/);
      return true;
    },
  );
  // Every read would answer 503: a setting that cannot work stops the web at start.
  assert.throws(
    () => parseWebConfig({ WEB_PUBLIC_READ: "false" }),
    /^ConfigError: Cannot start web: WEB_PUBLIC_READ false needs VIGIL_API_TOKEN/,
  );
  assert.throws(
    () => parseWebConfig({ S3_BUCKET: "archive", S3_ACCESS_KEY_ID: "AKIA" }),
    /S3_SECRET_ACCESS_KEY must be set together with the other S3 key variable/,
  );
});

Deno.test("parseWebConfig() refuses a token a bearer header cannot carry, without echoing it", () => {
  assert.throws(
    () => parseWebConfig({ VIGIL_API_TOKEN: "pass word with spaces" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /VIGIL_API_TOKEN must be only A-Z a-z 0-9/);
      assert.doesNotMatch(error.message, /spaces/);
      return true;
    },
  );
  assert.equal(
    parseWebConfig({ VIGIL_API_TOKEN: "abc.DEF-123_~+/==" }).VIGIL_API_TOKEN,
    "abc.DEF-123_~+/==",
  );
});

Deno.test("WEB_HEARTBEAT_INTERVAL beats within the page's 45 s watchdog", () => {
  // The page drops a live stream silent for 45 s and reconnects; past 2^31-1 ms the
  // interval fired every millisecond.
  assert.equal(parseWebConfig({ WEB_HEARTBEAT_INTERVAL: "30s" }).WEB_HEARTBEAT_INTERVAL, 30_000);
  for (const v of ["45s", "1m", "30d"]) {
    assert.throws(
      () => parseWebConfig({ WEB_HEARTBEAT_INTERVAL: v }),
      /^ConfigError: Cannot start web: WEB_HEARTBEAT_INTERVAL must be between 1s and 30s/,
      v,
    );
  }
});

Deno.test("S3_ENDPOINT must be an http(s) URL (minio:9000 was taken as a URL of scheme minio:)", () => {
  assert.equal(
    parseWebConfig({ S3_BUCKET: "vigil", S3_ENDPOINT: "http://minio:9000" }).S3_ENDPOINT,
    "http://minio:9000",
  );
  for (const v of ["minio:9000", "localhost:9000", "ftp://minio"]) {
    assert.throws(
      () => parseWebConfig({ S3_ENDPOINT: v }),
      /^ConfigError: Cannot start web: S3_ENDPOINT is not a valid URL \(expected e\.g\. http:\/\/minio:9000\)/,
      v,
    );
  }
});

Deno.test("WEB_HOST is a host alone: with a port the web failed to listen only after connecting", () => {
  assert.equal(parseWebConfig({ WEB_HOST: "0.0.0.0" }).WEB_HOST, "0.0.0.0");
  assert.throws(
    () => parseWebConfig({ WEB_HOST: "0.0.0.0:8080" }),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message ===
        "Cannot start web: WEB_HOST is not a host name or address alone (the port goes in " +
          `WEB_PORT) (got "0.0.0.0:8080")`,
  );
});

Deno.test("S3 settings without S3_BUCKET stop the web at start (it looked up evidence in ARCHIVE_DIR)", () => {
  assert.throws(
    () => parseWebConfig({ S3_ENDPOINT: "http://minio:9000" }),
    /^ConfigError: Cannot start web: S3_ENDPOINT needs S3_BUCKET \(without it the archive is the local folder ARCHIVE_DIR\)/,
  );
  assert.throws(
    () => parseWebConfig({ S3_ACCESS_KEY_ID: "AKIA", S3_SECRET_ACCESS_KEY: "secret" }),
    /S3_ACCESS_KEY_ID needs S3_BUCKET/,
  );
});
