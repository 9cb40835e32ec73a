import { logsArchive } from "./_helpers.ts";
/**
 * The partition's log starts again (another cluster, a topic created again):
 * the new log is archived under its own name; no object of the old log is
 * replaced.
 */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { numberedLogs, produce, testKafka } from "@vigil/tools/testing/bridge";
import { createDirStore } from "../store.ts";
import { gunzip } from "@vigil/tools/testing/archive";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Every archived line, by object (path relative to `dir`). */
async function archived(dir: string): Promise<Map<string, { offset: string; value: string }[]>> {
  const out = new Map<string, { offset: string; value: string }[]>();
  async function walk(path: string) {
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory) await walk(`${path}/${e.name}`);
      else if (e.name.endsWith(".ndjson.gz")) {
        const lines = (await gunzip(await Deno.readFile(`${path}/${e.name}`))).split("\n")
          .filter(Boolean).map((l) => JSON.parse(l));
        out.set(`${path}/${e.name}`.slice(dir.length + 1), lines);
      }
    }
  }
  await walk(dir).catch(() => {});
  return out;
}

const count = async (dir: string) =>
  [...(await archived(dir)).values()].reduce((n, lines) => n + lines.length, 0);

/**
 * A first log of 50 messages archived, then a second mock's log of `n`
 * messages. `sameCluster`: the progress record loses its cluster id in
 * between (a record of an older version, or a topic created again on the same
 * cluster), so only the high watermark can tell.
 */
async function scenario(n: number, sameCluster: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "vigil-archive-reset-" });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service: "archive",
    level: "warn",
    write: (line) => lines.push(JSON.parse(line)),
  });
  const archiveUntil = async (brokers: string[], metrics: Registry, n: number) => {
    const archive = logsArchive({
      kafka: testKafka(brokers),
      store: createDirStore(dir),
      log,
      metrics,
    }, {
      policy: { maxMessages: 20, maxBytes: 1 << 30, maxAgeMs: 300 },
    });
    const controller = new AbortController();
    const running = archive.run(controller.signal);
    try {
      await waitFor(async () => (await count(dir)) === n, {
        timeoutMs: 30_000,
        what: `${n} messages archived`,
      });
    } finally {
      controller.abort();
      await running;
    }
  };
  try {
    // 1. The first log: offsets 0..49, in objects of at most 20.
    const record = `${dir}/raw/logs/progress/0.json`;
    const metrics = new Registry();
    let before = new Map<string, { offset: string; value: string }[]>();
    await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
      await produce(testKafka(cluster.brokers), numberedLogs(0, 50), 50);
      await archiveUntil(cluster.brokers, new Registry(), 50);
      before = await archived(dir);
      if (sameCluster) {
        const { next } = JSON.parse(await Deno.readTextFile(record));
        await Deno.writeTextFile(record, JSON.stringify({ next }));
      }
      // 2. The second log: offsets 0..n-1 again, other messages, within the same hour. (The
      //    first cluster stays up: the mock names a cluster after its address, which a
      //    cluster started later could reuse.)
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (other) => {
        await produce(testKafka(other.brokers), numberedLogs(1000, n), n);
        await archiveUntil(other.brokers, metrics, 50 + n);
      });
    });
    const after = await archived(dir);

    // Every object of the first log is still there, unchanged.
    for (const [path, content] of before) assert.deepEqual(after.get(path), content, path);
    // The new log's objects carry its name, and hold its n messages once.
    const fresh = [...after.keys()].filter((p) => !before.has(p));
    assert.ok(fresh.length >= 2, JSON.stringify(fresh));
    for (const p of fresh) assert.match(p, /\/0-\d+\.log\d+\.ndjson\.gz$/);
    const values = fresh.flatMap((p) => after.get(p)!).map((l) => JSON.parse(l.value).message);
    assert.deepEqual(values.sort(), Array.from({ length: n }, (_, i) => `n=${1000 + i}`).sort());
    assert.match(await metrics.render(), /vigil_archive_log_resets_total\{topic="logs"\} 1\n/);
    // A topic created again is told per partition; another cluster once for all its partitions.
    const said = (re: RegExp) => lines.filter((l) => l.level === "warn" && re.test(String(l.msg)));
    assert.equal(said(/log ends below/).length, sameCluster ? 1 : 0);
    assert.equal(said(/another Kafka cluster answers/).length, sameCluster ? 0 : 1);
    const progress = JSON.parse(await Deno.readTextFile(record));
    assert.equal(progress.next, String(n));
    assert.ok(progress.log > 0);
    assert.match(progress.cluster, /^mockCluster/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "createArchive() archives a topic created again under its own name, replacing nothing",
  opts,
  () => scenario(30, true),
);

Deno.test(
  "createArchive() archives the log of another Kafka cluster under its own name, even past the old offsets",
  opts,
  () => scenario(80, false),
);
