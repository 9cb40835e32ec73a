import assert from "node:assert/strict";
import { logLevel } from "kafkajs";
import { createKafka, kafkajsLevel } from "./kafka.ts";
import { createLogger } from "./log.ts";

Deno.test("kafkajsLevel() moves kafkajs' offset-out-of-range lines to debug, keeps the rest", () => {
  // The two lines kafkajs writes per partition and fetch when retention deleted unread messages
  // (seen on the dev Kafka under load; the services log the gap themselves).
  assert.equal(
    kafkajsLevel(logLevel.ERROR, "Offset out of range, resetting to default offset", {}),
    logLevel.DEBUG,
  );
  assert.equal(
    kafkajsLevel(logLevel.ERROR, "Response Fetch(key: 1, version: 11)", {
      error: "The requested offset is not within the range of offsets maintained by the server",
    }),
    logLevel.DEBUG,
  );
  assert.equal(
    kafkajsLevel(logLevel.ERROR, "Response Fetch(key: 1, version: 11)", {
      error: "This server is not the leader for that topic-partition",
    }),
    logLevel.ERROR,
  );
  assert.equal(kafkajsLevel(logLevel.WARN, "Connection timeout", {}), logLevel.WARN);
});

Deno.test("kafkajsLevel() moves the refused requests of a member that must rejoin to debug and its rejoin to warn", () => {
  // Seen on `up` after the dev Kafka stalled 15 s: the bridge and archive sessions expired and
  // kafkajs logged 75 error lines (one per refused heartbeat and commit), then rejoined.
  for (
    const error of [
      "The coordinator is not aware of this member",
      "The group is rebalancing, so a rejoin is needed",
      "Specified group generation id is not valid",
    ]
  ) {
    assert.equal(
      kafkajsLevel(logLevel.ERROR, "Response Heartbeat(key: 12, version: 3)", { error }),
      logLevel.DEBUG,
    );
  }
  assert.equal(
    kafkajsLevel(
      logLevel.ERROR,
      "The coordinator is not aware of this member, re-joining the group",
      {},
    ),
    logLevel.WARN,
  );
  // A refused request for another reason keeps its level.
  assert.equal(
    kafkajsLevel(logLevel.ERROR, "Response OffsetCommit(key: 8, version: 5)", {
      error: "Not authorized to access group",
    }),
    logLevel.ERROR,
  );
});

Deno.test("createKafka() writes a repeating kafkajs error once a minute, the repeats at debug", () => {
  // kafkajs writes one line per retry of every broker while Kafka is down (46 in 45 s).
  const lines: { level: string; msg: string; repeated?: number }[] = [];
  const log = createLogger({
    service: "t",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  const kafka = createKafka({ brokers: ["127.0.0.1:1"], clientId: "t", log });
  const klog = kafka.logger().namespace("Connection");
  for (let i = 0; i < 5; i++) klog.error("Connection error: connect ECONNREFUSED 127.0.0.1:1", {});
  klog.warn("another warning", {});
  const shown = lines.filter((l) => l.level !== "debug").map((l) => `${l.level} ${l.msg}`);
  assert.deepEqual(shown, [
    "error Connection error: connect ECONNREFUSED 127.0.0.1:1",
    "warn another warning",
  ]);
  assert.equal(lines.filter((l) => l.level === "debug").length, 4, "the repeats at debug");
});
