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
