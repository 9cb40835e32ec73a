import assert from "node:assert/strict";
import { z } from "zod";
import { commonEnv, ConfigError, parseEnv } from "./config.ts";
import type { Cluster } from "ioredis";
import { createRedis, parseHostPort, redisConnection } from "./redis.ts";

const schema = z.object(commonEnv);

Deno.test("redisConnection() names the cluster's nodes only when REDIS_CLUSTER_NODES is set", () => {
  assert.deepEqual(redisConnection(parseEnv("t", schema, {})), { url: "redis://127.0.0.1:6379" });
  assert.deepEqual(
    redisConnection(
      parseEnv("t", schema, {
        REDIS_CLUSTER_NODES: " r1:7000, r2:7001 ",
        REDIS_URL: "rediss://u:p@x:1",
      }),
    ),
    { url: "rediss://u:p@x:1", clusterNodes: ["r1:7000", "r2:7001"] },
  );
  assert.deepEqual(redisConnection(parseEnv("t", schema, { REDIS_CLUSTER_NODES: " " })), {
    url: "redis://127.0.0.1:6379",
  });
});

Deno.test("REDIS_CLUSTER_NODES that is not a host:port list stops the service with its name", () => {
  assert.throws(
    () => parseEnv("bridge", schema, { REDIS_CLUSTER_NODES: "redis://r1:7000" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^Cannot start bridge: REDIS_CLUSTER_NODES is not a list of host:port/.test(e.message),
  );
});

Deno.test("parseHostPort() reads names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("redis-node-1:6379"), { host: "redis-node-1", port: 6379 });
  assert.deepEqual(parseHostPort("10.0.0.1:7000"), { host: "10.0.0.1", port: 7000 });
  assert.deepEqual(parseHostPort("[::1]:7000"), { host: "::1", port: 7000 });
});

Deno.test("createRedis() gives every cluster node REDIS_URL's user, password and TLS", async () => {
  const client = createRedis({
    url: "rediss://ops:s%40cret@ignored:1",
    clusterNodes: ["127.0.0.1:1"],
  }, {
    name: "t",
  });
  try {
    assert.equal(client.isCluster, true);
    const nodeOptions = (client as Cluster).options.redisOptions ?? {};
    assert.equal(nodeOptions.username, "ops");
    assert.equal(nodeOptions.password, "s@cret");
    assert.deepEqual(nodeOptions.tls, {});
    assert.equal(nodeOptions.connectionName, "t");
  } finally {
    client.disconnect();
    await new Promise((r) => setTimeout(r, 50));
  }
});
