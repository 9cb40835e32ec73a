import assert from "node:assert/strict";
import { withS3rver } from "@vigil/tools/testing/s3";
import { archiveFolder, archiveLine, objectKey, progressKey } from "@vigil/archive/format";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import {
  type ArchiveStore,
  createDirStore,
  createS3Store,
  LAST_OFFSET_META,
} from "@vigil/archive/store";
import {
  type ArchiveLister,
  createDirLister,
  createS3Lister,
  findArchiveObject,
} from "../archive_lookup.ts";
import { createArchive } from "@vigil/archive/archive";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { withRunning } from "@vigil/tools/testing/wait";
import { produce, testKafka } from "@vigil/tools/testing/bridge";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { getJson, insertAnomalies, withWebApp } from "./_helpers.ts";
import { gzip } from "@vigil/tools/testing/archive";

// s3rver and the AWS SDK keep sockets the sanitizers would flag; both are closed in finally.
const opts = { sanitizeOps: false, sanitizeResources: false };
const BUCKET = "vigil-web-elsewhere";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Now: the bridge ingests every event at 03:20 UTC. */
const NOW = Date.parse("2025-03-03T03:20:00Z");

/** One message as the archive reads it: offset, Kafka timestamp and the event's own time. */
interface Msg {
  offset: number;
  kafkaMs: number;
  eventMs: number;
}

const event = (m: Msg) => ({ timestamp: new Date(m.eventMs).toISOString(), service: "checkout" });

/**
 * Store one batch of `partition` as the archive does: gzipped NDJSON lines, keyed by the first
 * message's Kafka time, its last offset recorded (`legacy`: as before it was), then the progress.
 */
async function storeBatch(
  store: ArchiveStore,
  partition: number,
  batch: Msg[],
  legacy = false,
): Promise<string> {
  const lines = batch.map((m) =>
    archiveLine({
      topic: "metrics",
      partition,
      offset: String(m.offset),
      timestamp: String(m.kafkaMs),
      key: new TextEncoder().encode("checkout"),
      value: new TextEncoder().encode(JSON.stringify(event(m))),
    }) + "\n"
  );
  const first = batch[0]!;
  const key = objectKey("raw", {
    topic: "metrics",
    partition,
    offset: String(first.offset),
    timestamp: String(first.kafkaMs),
  });
  const last = String(batch.at(-1)!.offset);
  await store.put(key, await gzip(lines.join("")), undefined, legacy ? undefined : last);
  const next = new TextEncoder().encode(JSON.stringify({ next: String(batch.at(-1)!.offset + 1) }));
  await store.put(progressKey("raw", "metrics", partition), next);
  return key;
}

/**
 * Both repros: batches filed under an hour the web does not list (a Kafka timestamp the producer
 * set). The lookup must never name the partition's previous object, which does not hold the event.
 */
async function checkElsewhere(store: ArchiveStore, archive: ArchiveLister): Promise<void> {
  // Repro 1, partition 17: an event of two days ago (offset 481) sent with a Kafka timestamp of
  // one day ago, after a fresh one (480): filed under yesterday 03:00, which is not searched.
  const fresh480 = { offset: 480, kafkaMs: NOW - 60_000, eventMs: NOW - 60_000 };
  const key480 = await storeBatch(store, 17, [fresh480]);
  const old481 = { offset: 481, kafkaMs: NOW - DAY, eventMs: NOW - 2 * DAY };
  const key481 = await storeBatch(store, 17, [old481]);
  assert.equal(key481, "raw/metrics/dt=2025-03-02/hour=03/17-481.ndjson.gz");
  // Repro 2, partition 9: 13..17 fresh (stored before the archive recorded last offsets); then
  // one key sends a backlog event stamped two days ago (18) and a fresh one (19), batched
  // together and filed under the backlog's hour.
  const fresh = (offset: number) => ({ offset, kafkaMs: NOW - 120_000, eventMs: NOW - 120_000 });
  const key13 = await storeBatch(store, 9, [13, 14, 15, 16, 17].map(fresh), true);
  const backlog = { offset: 18, kafkaMs: NOW - 2 * DAY, eventMs: NOW - 2 * DAY };
  const fresh19 = { offset: 19, kafkaMs: NOW - 30_000, eventMs: NOW - 30_000 };
  const key18 = await storeBatch(store, 9, [backlog, fresh19]);
  assert.equal(key18, "raw/metrics/dt=2025-03-01/hour=03/9-18.ndjson.gz");

  await withWebApp(async ({ app, sql, redis, keys }) => {
    const stream = keys.events("metrics");
    const evidence = [];
    for (
      const [partition, m] of [[17, fresh480], [17, old481], [9, fresh(15)], [9, backlog], [
        9,
        fresh19,
      ]] as const
    ) {
      const id = await redis.xadd(
        stream,
        "*",
        "data",
        JSON.stringify(event(m)),
        "topic",
        "metrics",
        "partition",
        String(partition),
        "offset",
        String(m.offset),
        "key",
        "checkout",
        "ingest_ts",
        String(NOW),
      );
      evidence.push({
        stream,
        stream_id: id!,
        topic: "metrics",
        partition,
        offset: String(m.offset),
      });
    }
    await insertAnomalies(sql, [{ id: "e1", detected_at: new Date(NOW), evidence }]);
    // Twice: the second answer comes from what the first learnt of each object (cached).
    for (let round = 0; round < 2; round++) {
      const { status, body } = await getJson(app, "/api/anomalies/e1");
      assert.equal(status, 200);
      const got = (body.evidence as { archive: Record<string, unknown> }[]).map((e) => e.archive);
      const found = (object: string) => ({
        folder: object.slice(0, object.lastIndexOf("/") + 1),
        object_pattern: `${object.slice(object.lastIndexOf("/") + 1).split("-")[0]}-*.ndjson.gz`,
        object,
        lookup: "found",
        url: `s3://vigil-archive/${object}`,
      });
      const elsewhere = (partition: number) => ({
        folder: "raw/metrics/",
        object_pattern: `dt=*/hour=*/${partition}-*.ndjson.gz`,
        object: null,
        lookup: "elsewhere",
        url: "s3://vigil-archive/raw/metrics/",
      });
      assert.deepEqual(got, [
        found(key480),
        elsewhere(17), // not 17-480, which holds 480 only
        found(key13),
        found(key18), // the backlog event, searched around its own time
        elsewhere(9), // not 9-13, which holds 13..17
      ], `round ${round}`);
    }
  }, { archive });
}

Deno.test(
  "GET /api/anomalies/:id never names an object that does not hold the event (S3)",
  opts,
  async () => {
    await withS3rver(BUCKET, async ({ client }) => {
      await checkElsewhere(
        createS3Store({ client, bucket: BUCKET }),
        createS3Lister({ client, bucket: BUCKET }),
      );
      // The archive's store records each object's last offset as user metadata (one HeadObject).
      const head = (Key: string) => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key }));
      const meta = (await head("raw/metrics/dt=2025-03-01/hour=03/9-18.ndjson.gz")).Metadata;
      assert.equal(meta?.[LAST_OFFSET_META], "19");
      assert.equal(LAST_OFFSET_META, "vigil-last-offset");
    });
  },
);

Deno.test(
  "GET /api/anomalies/:id never names an object that does not hold the event (local folder)",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-web-elsewhere-" });
    try {
      await checkElsewhere(createDirStore(dir), createDirLister(dir));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "the archive's objects in S3 let the lookup tell found from elsewhere (both repros, live archive)",
  opts,
  async () => {
    await withS3rver(BUCKET, async ({ client }) => {
      await withKafka({ brokers: 1, partitions: 1, topics: ["metrics"] }, async (cluster) => {
        const kafka = testKafka(cluster.brokers);
        const archive = createArchive({
          kafka,
          store: createS3Store({ client, bucket: BUCKET }),
          log: silentLogger(),
          metrics: new Registry(),
          config: {
            topics: ["metrics"],
            policy: { maxMessages: 1000, maxBytes: 1 << 30, maxAgeMs: 300 },
          },
        });
        const lister = createS3Lister({ client, bucket: BUCKET });
        const objects = async () => (await lister.list("raw/metrics/dt=")).length;
        const now = Date.now();
        /** Send messages (Kafka timestamp, event time) together, then wait for their object. */
        const send = async (stamps: [number, number][], stored: number) => {
          await produce(
            kafka,
            stamps.map(([kafkaMs, eventMs]) => ({
              topic: "metrics",
              message: {
                key: "checkout",
                value: JSON.stringify(event({ offset: 0, kafkaMs, eventMs })),
                timestamp: String(kafkaMs),
              },
            })),
          );
          await waitFor(async () => (await objects()) === stored, {
            timeoutMs: 30_000, // a group join first: over 4 s on a loaded machine
            what: `${stored} objects stored`,
          });
        };
        await withRunning(archive, async () => {
          await send([0, 1, 2, 3, 4].map(() => [now, now]), 1); // offsets 0..4
          // Repro 2: a backlog event stamped two days ago (5), then a fresh one (6), one batch.
          await send([[now - 2 * DAY, now - 2 * DAY], [now, now]], 2);
          await send([[now, now]], 3); // 7
          // Repro 1: an event of two days ago sent with a Kafka timestamp of one day ago (8).
          await send([[now - DAY, now - 2 * DAY]], 4);
        });
        const find = (offset: string, eventTimeMs: number) =>
          findArchiveObject(
            (p) => lister.list(p),
            {
              prefix: "raw",
              topic: "metrics",
              partition: 0,
              offset,
              timeMs: now + 1000, // the bridge's ingest time
              eventTimeMs,
            },
            (k) => lister.read(k),
            lister.lastOffset,
          );
        const key = (ms: number, offset: number) =>
          `${archiveFolder("raw", "metrics", ms)}0-${offset}.ndjson.gz`;
        assert.deepEqual(await find("3", now), { lookup: "found", object: key(now, 0) });
        assert.deepEqual(await find("5", now - 2 * DAY), {
          lookup: "found",
          object: key(now - 2 * DAY, 5),
        });
        assert.deepEqual(await find("6", now), { lookup: "elsewhere", object: null }); // not 0-0
        assert.deepEqual(await find("7", now), { lookup: "found", object: key(now, 7) });
        assert.deepEqual(await find("8", now - 2 * DAY), { lookup: "elsewhere", object: null }); // not 0-7
        assert.equal(await objects(), 4);
        // The archive recorded each object's last offset: the backlog's batch holds 5 and 6.
        const head = await client.send(
          new HeadObjectCommand({ Bucket: BUCKET, Key: key(now - 2 * DAY, 5) }),
        );
        assert.equal(head.Metadata?.[LAST_OFFSET_META], "6");
      });
    });
  },
);
