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
    // A log system reads every line as JSON: the line that says why a deploy failed too.
    const [line] = service.lines();
    assert.ok(!line!.raw, `${task}: not a JSON line: ${line!.msg}`);
    assert.equal(line!.level, "error", task);
    assert.equal(line!.service, task, task);
  }));
});

Deno.test("a bad producer argument (compose passes --rate) stops it with exit 2 and one JSON line", async () => {
  const producer = await spawnService("producer", { PRODUCER_PORT: "0" }, ["--rate", "abc"]);
  const status = await producer.status;
  assert.equal(status.code, 2, producer.tail(20));
  const lines = producer.lines();
  assert.equal(lines.length, 1, producer.tail(20));
  assert.ok(!lines[0]!.raw, `not a JSON line: ${lines[0]!.msg}`);
  assert.equal(lines[0]!.level, "error");
  assert.match(String(lines[0]!.msg), /^Cannot parse arguments: --rate: must be a number/);
  assert.equal(lines[0]!.hint, "run with --help for usage");
});

/** DATABASE_URL of the test server, naming a database it does not have. */
function missingDatabaseUrl(): string {
  const url = new URL(
    Deno.env.get("TEST_DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres",
  );
  url.pathname = "/vigil_no_such_db";
  return url.href;
}

Deno.test("a setting found wrong while starting stops the service with exit 2 too, not 1 (restarted by deno task dev)", async () => {
  const cases: [task: string, env: Record<string, string>, error: RegExp][] = [
    [
      "notifier",
      { NOTIFIER_ROUTES_FILE: "./data/vigil-no-such-routes.json", NOTIFIER_PORT: "0" },
      /^Cannot start notifier: NOTIFIER_ROUTES_FILE cannot be read \(No such file/,
    ],
    ...["detector", "notifier", "web"].map((task): [string, Record<string, string>, RegExp] => [
      task,
      { DATABASE_URL: missingDatabaseUrl(), [`${task.toUpperCase()}_PORT`]: "0" },
      /^PostgreSQL refused DATABASE_URL: database "vigil_no_such_db" does not exist: fix the database name in DATABASE_URL/,
    ]),
  ];
  // OUTBOX_DIR naming a file: every digest failed to be written, retried until GIVE_UP_AFTER.
  const file = "data/vigil-outbox-is-a-file";
  await Deno.mkdir(new URL("../../data", import.meta.url), { recursive: true });
  await Deno.writeTextFile(new URL(`../../${file}`, import.meta.url), "not a folder\n");
  cases.push([
    "notifier",
    { OUTBOX_DIR: `./${file}`, NOTIFIER_PORT: "0" },
    /^Cannot start notifier: OUTBOX_DIR \.\/data\/vigil-outbox-is-a-file cannot be used \(File exists/,
  ]);
  await Promise.all(cases.map(async ([task, env, error]) => {
    const service = await spawnService(task, env);
    // One that starts anyway is stopped: the test fails instead of waiting for it.
    let timer: number | undefined;
    const status = await Promise.race([
      service.status,
      new Promise<undefined>((resolve) => timer = setTimeout(resolve, 30_000)),
    ]).finally(() => clearTimeout(timer)) ?? await service.stop();
    const output = service.tail(20);
    assert.equal(status.code, 2, `${task}:\n${output}`);
    const errors = service.lines().filter((l) => l.level === "error");
    assert.equal(errors.length, 1, `${task}:\n${output}`);
    assert.equal(errors[0]!.msg, `cannot start ${task}`, output);
    assert.match(String((errors[0]!.error as { message?: string })?.message), error, output);
    assert.doesNotMatch(output, /\\n\s+at /, "no stack trace");
  })).finally(() => Deno.remove(new URL(`../../${file}`, import.meta.url)));
});
