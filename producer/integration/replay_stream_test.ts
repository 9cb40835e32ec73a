/**
 * Replays as the producer runs them: a large file is read as it is sent, so
 * the producer's memory does not grow with the file (its text and cells were
 * held: ~20× the file, 4 GB for 200 MB) and its ops server answers while it
 * sends; standard input (`--replay -`) is replayed like a file.
 */
import assert from "node:assert/strict";
import { withKafka } from "@vigil/tools/testing/kafka";
import { spawnService } from "@vigil/tools/testing/services";
import { waitFor } from "@vigil/tools/testing/wait";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** `n` readings at 1 s steps from 2025-01-01, in the NAB layout. */
function readings(n: number, from = 0): string {
  const t0 = Date.UTC(2025, 0, 1);
  let text = "";
  for (let i = from; i < from + n; i++) {
    text += `${new Date(t0 + i * 1000).toISOString().slice(0, 19).replace("T", " ")},${i % 97}\n`;
  }
  return text;
}

/** The peak resident memory of process `pid`, in bytes (Linux). */
async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

Deno.test(
  "producer --replay of a 40 MB file: memory far below the file's 20×, /health answering while it sends",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/large.csv`;
      const out = await Deno.open(file, { write: true, create: true });
      const encoder = new TextEncoder();
      await out.write(encoder.encode("timestamp,value\n"));
      for (let i = 0; i < 1_800_000; i += 50_000) {
        await out.write(encoder.encode(readings(50_000, i)));
      }
      out.close();
      const size = (await Deno.stat(file)).size;
      assert.ok(size > 40e6, `${size} bytes`);
      await withKafka({ brokers: 1, partitions: 1 }, async (cluster) => {
        const producer = await spawnService("producer", {
          KAFKA_BROKERS: cluster.brokers.join(","),
          PRODUCER_PORT: "0",
          PRODUCER_CONNECT_TIMEOUT: "10s",
        }, ["--replay", file, "--speed", "max"]);
        try {
          // The file is checked in full before Kafka is contacted: slow on a busy machine.
          const port = await producer.opsPort(300_000);
          const sent = async () => {
            const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
            return Number(/^vigil_producer_events_total\{type="metrics"\} (\d+)/m.exec(text)?.[1]);
          };
          await waitFor(async () => (await sent()) > 0, {
            timeoutMs: 60_000,
            what: "the first events",
          });
          const health = await fetch(`http://127.0.0.1:${port}/health`);
          assert.equal(health.status, 200, await health.text());
          // Sending, not done: the replay is being read as it goes.
          assert.ok((await sent()) < 1_800_000);
          const peak = await peakRss(producer.pid);
          assert.ok(
            peak < 400e6,
            `peak RSS ${Math.round(peak / 1e6)} MB for a ${size / 1e6} MB file`,
          );
          // Ctrl-C before the replay's end: exit 130, so `producer --replay f && next` stops.
          await producer.kill("SIGINT");
          const output = producer.tail(20);
          assert.equal((await producer.status).code, 130, output);
          assert.ok(
            producer.lines().some((l) => l.msg === "producer stopped" && l.interrupted === true),
            output,
          );
        } finally {
          await producer.stop();
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("producer --replay - replays standard input (zcat file.csv.gz | …)", opts, async () => {
  await withKafka({ brokers: 1, partitions: 1 }, async (cluster) => {
    // Out of time order and in pieces, as a pipe brings them: held, sorted, all sent.
    const lines = readings(2_000).trim().split("\n").reverse();
    const bytes = new TextEncoder().encode(`timestamp,value\n${lines.join("\n")}\n`);
    const stdin = ReadableStream.from(
      Array.from({ length: 20 }, (_, i) => bytes.slice(i * 5_000, (i + 1) * 5_000)),
    );
    const producer = await spawnService(
      "producer",
      {
        KAFKA_BROKERS: cluster.brokers.join(","),
        PRODUCER_PORT: "0",
        PRODUCER_CONNECT_TIMEOUT: "10s",
      },
      ["--replay", "-", "--speed", "max"],
      { stdin },
    );
    const status = await producer.status;
    const output = producer.tail(20);
    assert.equal(status.code, 0, output);
    const said = producer.lines();
    assert.equal(said.find((l) => l.msg === "producer started")?.file, "stdin", output);
    const done = said.find((l) => l.msg === "producer stopped");
    assert.deepEqual([done?.sent, done?.undelivered], [2_000, 0], output);
  });
});
