import assert from "node:assert/strict";
import { createDirStore } from "@vigil/archive/store";
import { archiveFolder, archiveLine, objectKey, progressKey } from "@vigil/archive/format";
import type { S3Client } from "@aws-sdk/client-s3";
import { createDirLister, createS3Lister, findArchiveObject } from "./archive_lookup.ts";
import { gzip } from "@vigil/tools/testing/archive";

const T = Date.parse("2025-03-01T13:00:20Z");

/** The object findArchiveObject() names when every folder lists `keys` (no progress record). */
async function pickObject(
  keys: readonly string[],
  partition: number,
  offset: string,
  timeMs = Infinity,
): Promise<string | null> {
  const where = { prefix: "raw", topic: "logs", partition, offset, timeMs };
  return (await findArchiveObject(() => Promise.resolve([...keys]), where)).object;
}

Deno.test("archiveFolder() names the folder the archive's objectKey() writes into", () => {
  for (const prefix of ["raw", "/raw/", "", "a/b"]) {
    for (const ms of [T, 0, Date.parse("2024-12-31T23:59:59.999Z")]) {
      const key = objectKey(prefix, {
        topic: "metrics",
        partition: 3,
        offset: "17",
        timestamp: String(ms),
      });
      assert.equal(archiveFolder(prefix, "metrics", ms) + "3-17.ndjson.gz", key);
    }
  }
});

Deno.test("findArchiveObject() takes the batch with the greatest first offset not above the event's", async () => {
  const keys = [
    "raw/logs/dt=2025-03-01/hour=12/0-100.ndjson.gz",
    "raw/logs/dt=2025-03-01/hour=13/0-250.ndjson.gz",
    "raw/logs/dt=2025-03-01/hour=13/0-9000000000000000000.ndjson.gz", // beyond 2^53
    "raw/logs/dt=2025-03-01/hour=13/10-200.ndjson.gz", // partition 10, not 0
    "raw/logs/dt=2025-03-01/hour=13/0-240.ndjson.gz.ab12cd34.tmp",
  ];
  assert.equal(await pickObject(keys, 0, "99"), null);
  assert.equal(await pickObject(keys, 0, "100"), keys[0]);
  assert.equal(await pickObject(keys, 0, "249"), keys[0]);
  assert.equal(await pickObject(keys, 0, "250"), keys[1]);
  assert.equal(await pickObject(keys, 0, "8999999999999999999"), keys[1]);
  assert.equal(await pickObject(keys, 0, "9000000000000000001"), keys[2]);
  assert.equal(await pickObject(keys, 10, "300"), keys[3]);
  assert.equal(await pickObject(keys, 1, "300"), null);
  assert.equal(await pickObject(keys, 0, "x"), null);
});

Deno.test("findArchiveObject() looks in the log of the event when the partition's log started again", async () => {
  const T = Date.UTC(2025, 2, 1, 12, 30);
  const key = (offset: string, log?: number) =>
    objectKey("raw", {
      topic: "logs",
      partition: 0,
      offset,
      timestamp: String(T),
      ...(log ? { log } : {}),
    });
  const keys = [key("0"), key("500"), key("0", T), key("40", T)]; // the first log; the one created again at T
  assert.equal(keys[3], `raw/logs/dt=2025-03-01/hour=12/0-40.log${T}.ndjson.gz`);
  // Offset 45 exists in both logs: the event's time tells which.
  assert.equal(await pickObject(keys, 0, "45", T - 60_000), keys[0]);
  assert.equal(await pickObject(keys, 0, "45", T + 5_000), keys[3]);
  assert.equal(await pickObject(keys, 0, "600", T - 60_000), keys[1]);
  // A new-log event is looked for in the new log only, never in the old log's objects.
  assert.equal(await pickObject(keys, 0, "600", T + 5_000), keys[3]);
  assert.equal(await pickObject(keys.slice(0, 2), 0, "45", T + 5_000), keys[0]);
  assert.equal(await pickObject(keys, 0, "45"), keys[3]);
});

Deno.test(
  "findArchiveObject() finds objects written by the archive's store, across an hour boundary",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-web-archive-" });
    try {
      const store = createDirStore(dir);
      const put = (partition: number, offset: string, ms: number) =>
        store.put(
          objectKey("raw", { topic: "logs", partition, offset, timestamp: String(ms) }),
          new Uint8Array([1]),
        );
      // Partition 0: a batch began at 12:59:30 (offsets 500..) and the next at 13:00:30 (620..).
      await put(0, "500", T - 50_000);
      await put(0, "620", T + 10_000);
      await put(1, "500", T - 50_000);
      // An unfinished write of the store (temp name) must not count.
      await Deno.writeFile(
        `${dir}/raw/logs/dt=2025-03-01/hour=13/0-700.ndjson.gz.1234.tmp`,
        new Uint8Array([1]),
      );
      const lister = createDirLister(dir);
      const calls: string[] = [];
      const list = (prefix: string) => {
        calls.push(prefix);
        return lister.list(prefix);
      };
      const find = (offset: string, timeMs: number) =>
        findArchiveObject(list, { prefix: "raw", topic: "logs", partition: 0, offset, timeMs })
          .then((r) => r.object);
      // Ingested at 13:00:20, in the batch that began in the previous hour.
      assert.equal(await find("610", T), "raw/logs/dt=2025-03-01/hour=12/0-500.ndjson.gz");
      assert.deepEqual(calls.sort(), [
        "raw/logs/dt=2025-03-01/hour=12/0-",
        "raw/logs/dt=2025-03-01/hour=13/0-",
        "raw/logs/dt=2025-03-01/hour=14/0-",
      ]);
      assert.equal(await find("720", T + 20_000), "raw/logs/dt=2025-03-01/hour=13/0-620.ndjson.gz");
      // Not archived yet (before the first batch), and an empty archive folder.
      assert.equal(await find("499", T), null);
      assert.deepEqual(await createDirLister(`${dir}/nothing`).list("raw/logs/x/0-"), []);
      assert.deepEqual(await lister.list("../etc/0-"), []);

      // With the progress record: the newest object ends before offset `next`.
      const read = (key: string) => lister.read(key);
      const findRead = (offset: string, timeMs: number) =>
        findArchiveObject(
          list,
          { prefix: "raw", topic: "logs", partition: 0, offset, timeMs },
          read,
        ).then((r) => r.object);
      const progress = (record: unknown) =>
        store.put(
          progressKey("raw", "logs", 0),
          new TextEncoder().encode(JSON.stringify(record)),
        );
      assert.equal(
        await findRead("720", T + 20_000),
        "raw/logs/dt=2025-03-01/hour=13/0-620.ndjson.gz",
      );
      await progress({ next: "700" }); // 620..699 stored; 700.. still in the open buffer
      assert.equal(
        await findRead("699", T + 20_000),
        "raw/logs/dt=2025-03-01/hour=13/0-620.ndjson.gz",
      );
      assert.equal(await findRead("720", T + 20_000), null);
      // An older object is complete whatever the record says.
      assert.equal(await findRead("610", T), "raw/logs/dt=2025-03-01/hour=12/0-500.ndjson.gz");
      // The record of a newer log: this log ended, its newest object holds the rest...
      await progress({ next: "0", log: T + 60_000 });
      assert.equal(
        await findRead("720", T + 20_000),
        "raw/logs/dt=2025-03-01/hour=13/0-620.ndjson.gz",
      );
      // ...and an event of the new log, none of whose objects is stored yet, is not archived.
      assert.equal(await findRead("610", T + 61_000), null);
      assert.equal(await lister.read("../etc/passwd"), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "findArchiveObject() finds a batch filed hours before the bridge ingested it (bridge lag)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-web-archive-" });
    try {
      const store = createDirStore(dir);
      const put = (offset: string, ms: number) =>
        store.put(
          objectKey("raw", { topic: "logs", partition: 0, offset, timestamp: String(ms) }),
          new Uint8Array([1]),
        );
      // Produced at 13:00:20 (Kafka time), archived then; the bridge was down and caught up 5 h later.
      await put("500", T - 20_000);
      await put("900", T + 5 * 3_600_000); // what Kafka received after the outage
      const lister = createDirLister(dir);
      const calls: string[] = [];
      const list = (prefix: string) => {
        calls.push(prefix);
        return lister.list(prefix);
      };
      const where = { prefix: "raw", topic: "logs", partition: 0, offset: "610" };
      const ingest = T + 5 * 3_600_000 + 30_000;
      assert.equal(
        (await findArchiveObject(list, { ...where, timeMs: ingest, eventTimeMs: T })).object,
        "raw/logs/dt=2025-03-01/hour=13/0-500.ndjson.gz",
      );
      // Every hour from the one before the event's to the one after its ingestion: 12..19.
      assert.equal(new Set(calls).size, 8);
      // Times further apart than a day: the three hours around each, never every hour between.
      calls.length = 0;
      const late = T + 40 * 3_600_000;
      assert.equal(
        (await findArchiveObject(list, { ...where, timeMs: late, eventTimeMs: T })).object,
        "raw/logs/dt=2025-03-01/hour=13/0-500.ndjson.gz",
      );
      assert.deepEqual(calls.sort(), [
        "raw/logs/dt=2025-03-01/hour=12/0-",
        "raw/logs/dt=2025-03-01/hour=13/0-",
        "raw/logs/dt=2025-03-01/hour=14/0-",
        "raw/logs/dt=2025-03-03/hour=04/0-",
        "raw/logs/dt=2025-03-03/hour=05/0-",
        "raw/logs/dt=2025-03-03/hour=06/0-",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** `n` object keys of partition 4 in one folder, one batch per offset, as S3 lists them (sorted). */
function manyKeys(folder: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${folder}4-${i}.ndjson.gz`).sort();
}

Deno.test(
  "findArchiveObject() never names a wrong object when a folder holds more keys than it lists",
  async () => {
    const folder = archiveFolder("raw", "logs", T);
    const keys = manyKeys(folder, 1_050);
    // S3 (ListObjectsV2, 100 keys a page here, in key order: "4-999" after "4-1049").
    const pages: string[] = [];
    const client = {
      send(command: { input: { Prefix: string; StartAfter?: string } }) {
        const { Prefix, StartAfter } = command.input;
        pages.push(StartAfter ?? "");
        const rest = keys.filter((k) => k.startsWith(Prefix) && k > (StartAfter ?? ""));
        return Promise.resolve({
          Contents: rest.slice(0, 100).map((Key) => ({ Key })),
          IsTruncated: rest.length > 100,
        });
      },
    } as unknown as S3Client;
    const s3 = createS3Lister({ client, bucket: "b", maxKeys: 1_000 });
    // Past the first page: the 161 keys under `4-1` are read whole.
    assert.equal((await s3.list(`${folder}4-1`)).length, 161);
    assert.equal(pages.length, 2);
    // The local folder (directory order), the same keys.
    const dir = await Deno.makeTempDir({ prefix: "vigil-web-archive-many-" });
    try {
      await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
      for (const k of keys) Deno.writeFileSync(`${dir}/${k}`, new Uint8Array());
      for (const [name, lister] of Object.entries({ s3, dir: createDirLister(dir, 1_000) })) {
        const where = { prefix: "raw", topic: "logs", partition: 4, timeMs: T };
        for (const offset of ["995", "1049", "5"]) {
          // The object of the event, or no answer (`unknown`): never another batch's.
          const found = await findArchiveObject((p) => lister.list(p), { ...where, offset })
            .then((r) => r.object, () => "unknown");
          assert.ok(
            found === "unknown" || found === `${folder}4-${offset}.ndjson.gz`,
            `${name} ${offset}: ${found}`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "findArchiveObject() names an object only once it holds the event (its last offset checked)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "vigil-web-archive-reach-" });
    try {
      const store = createDirStore(dir);
      const lines = (from: number, to: number) =>
        Array.from({ length: to - from + 1 }, (_, i) =>
          archiveLine({
            topic: "logs",
            partition: 0,
            offset: String(from + i),
            timestamp: String(T),
            key: null,
            value: new TextEncoder().encode("{}"),
          }) + "\n").join("");
      const key = objectKey("raw", {
        topic: "logs",
        partition: 0,
        offset: "500",
        timestamp: String(T),
      });
      await store.put(key, await gzip(lines(500, 509)));
      const progress = (next: string) =>
        store.put(progressKey("raw", "logs", 0), new TextEncoder().encode(`{"next":"${next}"}`));
      const lister = createDirLister(dir);
      const find = (offset: string, timeMs = T) =>
        findArchiveObject(
          (p) => lister.list(p),
          { prefix: "raw", topic: "logs", partition: 0, offset, timeMs },
          (k) => lister.read(k),
          lister.lastOffset,
        );
      // No progress record: held, or the listing cannot tell.
      assert.deepEqual(await find("509"), { lookup: "found", object: key });
      assert.deepEqual(await find("510"), { lookup: "unknown", object: null });
      // The archive is past it: stored in an object filed under an hour not listed.
      await progress("600");
      assert.deepEqual(await find("510"), { lookup: "elsewhere", object: null });
      assert.deepEqual(await find("400"), { lookup: "elsewhere", object: null });
      // Not stored yet.
      await progress("510");
      assert.deepEqual(await find("510"), { lookup: "not_archived", object: null });
      assert.deepEqual(await find("400"), { lookup: "elsewhere", object: null }); // stored before
      // An object that is not archive lines cannot tell: no answer (lookup `unknown`).
      const bad = objectKey("raw", {
        topic: "logs",
        partition: 0,
        offset: "700",
        timestamp: String(T),
      });
      await store.put(bad, new Uint8Array([1]));
      await progress("800");
      await assert.rejects(find("750"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
