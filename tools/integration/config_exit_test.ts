/**
 * A bad setting stops a service task at start with exit code 2 and one line
 * naming the variable and what to fix (docs/configuration.md), never a stack
 * trace (`deno task kafka` ended with one, exit 1). Every service's main goes
 * through `configOrExit`; the values each schema refuses are tested beside it
 * (each `config_test.ts`), so two tasks here keep this test quick.
 */
import assert from "node:assert/strict";
import { spawnService } from "@vigil/tools/testing/services";

const CASES: [task: string, env: Record<string, string>, message: string][] = [
  [
    "web",
    { WEB_HEARTBEAT_INTERVAL: "1m" },
    "Cannot start web: WEB_HEARTBEAT_INTERVAL must be between 1s and 30s (the page takes a live " +
    'stream silent for 45 s as dead and reconnects) (got "1m")',
  ],
  [
    // Was exit 1, at the listen, after connecting to Redis and PostgreSQL.
    "detector",
    { HTTP_HOST: "0.0.0.0:9103" },
    "Cannot start detector: HTTP_HOST is not a host name or address alone (the port goes in " +
    `this service's *_PORT variable) (got "0.0.0.0:9103")`,
  ],
  [
    "kafka",
    { KAFKA_DEV_BROKERS_FILE: "/tmp/vigil-no-access/kafka_brokers" },
    "Cannot start kafka: KAFKA_DEV_BROKERS_FILE /tmp/vigil-no-access/kafka_brokers is outside " +
    ".vigil/, where the task may write: use a path under .vigil/, or none",
  ],
  [
    "kafka",
    { KAFKA_DEV_PARTITIONS: "0", KAFKA_DEV_BROKERS_FILE: "none" },
    'Cannot start kafka: KAFKA_DEV_PARTITIONS Too small: expected number to be >=1 (got "0")',
  ],
];

Deno.test("a bad setting stops each service task at start: exit 2, one line, no stack trace", async () => {
  await Promise.all(CASES.map(async ([task, env, message]) => {
    const service = await spawnService(task, env);
    const status = await service.status;
    assert.equal(status.code, 2, `${task}:\n${service.tail(20)}`);
    assert.deepEqual(service.lines().map((l) => l.msg), [message], task);
  }));
});
