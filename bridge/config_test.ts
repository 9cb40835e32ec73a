import assert from "node:assert/strict";
import { parseBridgeConfig } from "./config.ts";

Deno.test("the bridge reads Redis, not PostgreSQL: a bad DATABASE_URL does not stop it", () => {
  const c = parseBridgeConfig({ DATABASE_URL: "mysql://x" });
  assert.equal("DATABASE_URL" in c, false);
  assert.throws(
    () => parseBridgeConfig({ REDIS_URL: "http://not-redis" }),
    /^ConfigError: Cannot start bridge: REDIS_URL is not a valid URL/,
  );
});

Deno.test("BRIDGE_SESSION_TIMEOUT out of range is refused in units, not in bare milliseconds", () => {
  assert.equal(parseBridgeConfig({ BRIDGE_SESSION_TIMEOUT: "30s" }).BRIDGE_SESSION_TIMEOUT, 30_000);
  for (const v of ["5s", "10m"]) {
    assert.throws(
      () => parseBridgeConfig({ BRIDGE_SESSION_TIMEOUT: v }),
      /^ConfigError: Cannot start bridge: BRIDGE_SESSION_TIMEOUT must be between 6s and 5m/,
      v,
    );
  }
});
