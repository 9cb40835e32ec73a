/**
 * Ctrl-C while Kafka holds the producer's batches: the final flush waits
 * PRODUCER_FLUSH_TIMEOUT, then the producer reports what it could not send
 * and exits 1, even when that timeout is longer than the usual 10 s bound on
 * shutdown.
 */
import assert from "node:assert/strict";
import { withKafka } from "@vigil/tools/testing/kafka";
import { spawnService } from "@vigil/tools/testing/services";

Deno.test({
  name: "producer: Ctrl-C with a 12 s PRODUCER_FLUSH_TIMEOUT waits it out and prints its summary",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withKafka({ brokers: 1, partitions: 1 }, async (cluster) => {
      const producer = await spawnService("producer", {
        KAFKA_BROKERS: cluster.brokers.join(","),
        PRODUCER_PORT: "0",
        PRODUCER_CONNECT_TIMEOUT: "10s",
        PRODUCER_LINGER_MS: "5ms",
        PRODUCER_FLUSH_TIMEOUT: "12s",
      }, ["--rate", "50"]);
      try {
        await producer.opsPort();
        // Sending works; then the broker answers nothing for a minute.
        await new Promise((r) => setTimeout(r, 1500));
        cluster.setRtt(1, 60_000);
        await new Promise((r) => setTimeout(r, 500));
        await producer.kill("SIGINT");
        const output = producer.tail(40);
        assert.equal((await producer.status).code, 1, output);
        const lines = producer.lines();
        assert.ok(
          !lines.some((l) => l.msg === "shutdown took too long, forcing exit"),
          `not cut off:\n${output}`,
        );
        const flush = lines.find((l) => l.msg === "Cannot flush: giving up on pending messages");
        assert.ok(flush, output);
        const done = lines.find((l) => l.msg === "producer stopped");
        assert.ok(done && Number(done.undelivered) > 0, output);
      } finally {
        cluster.setRtt(1, 0);
        await producer.stop();
      }
    });
  },
});
