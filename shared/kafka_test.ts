import assert from "node:assert/strict";
import { logLevel } from "kafkajs";
import { kafkajsLevel } from "./kafka.ts";

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
