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
