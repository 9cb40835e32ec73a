/**
 * A second producer on a machine where one already runs (a replay beside
 * `vigil.sh up`): its default ops port is taken, so it serves on a free one
 * and sends its events; a port named in PRODUCER_PORT is not changed behind
 * the user's back.
 */
import assert from "node:assert/strict";
import { withKafka } from "@vigil/tools/testing/kafka";
import { spawnService } from "@vigil/tools/testing/services";

const DEFAULT_PORT = 9101;

/** Hold the default port for `fn` (or leave it to whoever already holds it). */
async function withDefaultPortTaken(fn: () => Promise<void>) {
  let held: Deno.Listener | undefined;
  try {
    held = Deno.listen({ hostname: "127.0.0.1", port: DEFAULT_PORT });
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
  }
  try {
    await fn();
  } finally {
    held?.close();
  }
}

Deno.test({
  name:
    "producer: default ops port taken → a free port and the events sent; PRODUCER_PORT named → exit 1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withKafka({ brokers: 1, partitions: 1 }, async (cluster) => {
      await withDefaultPortTaken(async () => {
        const env = { KAFKA_BROKERS: cluster.brokers.join(","), PRODUCER_CONNECT_TIMEOUT: "10s" };
        // PRODUCER_PORT empty is unset (the default port), whatever the test runner's env holds.
        const second = await spawnService("producer", { ...env, PRODUCER_PORT: "" }, [
          "--count",
          "50",
          "--rate",
          "max",
        ]);
        const status = await second.status;
        const output = second.tail(40);
        assert.equal(status.code, 0, output);
        const lines = second.lines();
        const warn = lines.find((l) =>
          l.msg === "ops port in use (another producer?): serving on a free port"
        );
        assert.ok(warn, output);
        assert.equal(warn.port, DEFAULT_PORT);
        const listening = lines.find((l) => l.msg === "ops server listening");
        assert.ok(listening && listening.port !== DEFAULT_PORT, output);
        const done = lines.find((l) => l.msg === "producer stopped");
        assert.deepEqual([done?.sent, done?.undelivered], [50, 0], output);

        const named = await spawnService("producer", {
          ...env,
          PRODUCER_PORT: String(DEFAULT_PORT),
        }, [
          "--count",
          "5",
        ]);
        const namedStatus = await named.status;
        assert.equal(namedStatus.code, 1, named.tail(40));
        assert.match(named.tail(40), /127\.0\.0\.1:9101 is already in use/);
      });
    });
  },
});
