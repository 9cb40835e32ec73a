import assert from "node:assert/strict";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { createRetryRounds } from "@vigil/shared/retry";
import {
  type ArchiveStore,
  createDirStore,
  createGzipWriter,
  createS3Client,
  createS3Store,
  type PutRetryOptions,
  retrying,
  storeRefusal,
} from "./store.ts";
import { gunzip, gzip } from "@vigil/tools/testing/archive";

Deno.test("createDirStore() writes the key layout and a retry replaces the object", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = createDirStore(dir);
    assert.equal(await store.check(), true);
    await store.put("raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz", await gzip("a\n"));
    await store.put("raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz", await gzip("a\nb\n"));
    const files = [...Deno.readDirSync(`${dir}/raw/logs/dt=2025-01-01/hour=00`)].map((e) => e.name);
    assert.deepEqual(files, ["0-5.ndjson.gz"]);
    const bytes = await Deno.readFile(`${dir}/raw/logs/dt=2025-01-01/hour=00/0-5.ndjson.gz`);
    assert.equal(await gunzip(bytes), "a\nb\n");
    await assert.rejects(store.put("../x", new Uint8Array()), /bad key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createGzipWriter() streams lines into one gzip member and keeps only compressed bytes", async () => {
  const gz = createGzipWriter();
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const line = `{"n":${i},"text":"h\u00e9llo \u2713 ${"x".repeat(i % 50)}"}\n`;
    lines.push(line);
    gz.add(line);
    if (gz.queued >= 64 * 1024) await gz.drain();
    assert.ok(gz.queued < 64 * 1024 + 100, "text is compressed as it comes");
  }
  const body = await gz.finish();
  assert.ok(body.length < lines.join("").length / 4, "compressed");
  assert.equal(await gunzip(body), lines.join(""));
  // An abandoned writer lets go without an unhandled rejection.
  const dropped = createGzipWriter();
  dropped.add("x\n");
  await dropped.drain();
  dropped.abort();
  await new Promise((r) => setTimeout(r, 10));
});

function flakyStore(failures: number): ArchiveStore & { puts: number } {
  const s = {
    location: "flaky",
    puts: 0,
    put() {
      s.puts++;
      return s.puts <= failures ? Promise.reject(new Error("503 Slow Down")) : Promise.resolve();
    },
    get: () => Promise.resolve(null),
    check: () => Promise.resolve(true),
  };
  return s;
}

/** A put retried as the archive retries the put of an object. */
function putRetrying(store: ArchiveStore, key: string, body: Uint8Array, o: PutRetryOptions) {
  return retrying(key, (signal) => store.put(key, body, signal), o);
}

Deno.test("putRetrying() retries a failing put, a debug line per retry, the warning on report", async () => {
  const store = flakyStore(2);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service: "t",
    level: "debug",
    write: (l) => lines.push(JSON.parse(l)),
  });
  const rounds = createRetryRounds(log, "store objects");
  let errors = 0;
  await putRetrying(store, "raw/k", new Uint8Array([1]), {
    what: "store object",
    rounds,
    stopping: new AbortController().signal,
    onError: () => errors++,
  });
  assert.equal(store.puts, 3);
  assert.equal(errors, 2);
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.key, l.what]), [
    ["debug", "cannot store objects, retrying", "raw/k", "store object"],
    ["debug", "cannot store objects, retrying", "raw/k", "store object"],
  ]);
  // Stored before the round was told: one warning (nothing is failing any more), no recovery.
  rounds.report();
  assert.equal(lines.length, 3);
  assert.deepEqual(
    [lines[2]!.level, lines[2]!.failing, lines[2]!.attempts, lines[2]!.what],
    ["warn", 0, 2, "store object"],
  );
});

Deno.test("putRetrying() gives up after 3 attempts once stopping", async () => {
  const store = flakyStore(Infinity);
  const stopping = new AbortController();
  stopping.abort();
  await assert.rejects(
    putRetrying(store, "raw/k", new Uint8Array([1]), {
      what: "store object",
      rounds: createRetryRounds(silentLogger(), "store objects"),
      stopping: stopping.signal,
    }),
    /503 Slow Down/,
  );
  assert.equal(store.puts, 3);
});

Deno.test("putRetrying() stops once its signal aborts: no further attempt, the one in flight told", async () => {
  const store = flakyStore(Infinity);
  const generation = new AbortController();
  let errors = 0;
  const putting = putRetrying(store, "raw/k", new Uint8Array([1]), {
    what: "store object",
    rounds: createRetryRounds(silentLogger(), "store objects"),
    stopping: new AbortController().signal,
    signal: generation.signal,
    onError: () => errors++,
  });
  await new Promise((r) => setTimeout(r, 50)); // in its first backoff (100–200 ms)
  generation.abort(new Error("generation ended"));
  await assert.rejects(putting, /generation ended/);
  assert.equal(store.puts, 1);
  assert.equal(errors, 1);
  // An aborted put in flight is no store error; an aborted signal makes no attempt.
  let told: AbortSignal | undefined;
  const inFlight = new AbortController();
  const hanging: ArchiveStore = {
    ...store,
    put: (_key, _body, signal) =>
      new Promise((_, reject) => {
        told = signal;
        signal?.addEventListener("abort", () => reject(new Error("aborted")));
      }),
  };
  const options = {
    what: "w",
    rounds: createRetryRounds(silentLogger(), "store objects"),
    stopping: new AbortController().signal,
  };
  const put = putRetrying(hanging, "raw/k", new Uint8Array([1]), {
    ...options,
    signal: inFlight.signal,
    onError: () => errors++,
  });
  inFlight.abort(new Error("generation ended"));
  await assert.rejects(put, /generation ended/);
  assert.equal(told, inFlight.signal);
  assert.equal(errors, 1);
  await assert.rejects(
    putRetrying(store, "raw/k", new Uint8Array([1]), { ...options, signal: inFlight.signal }),
    /generation ended/,
  );
  assert.equal(store.puts, 1);
});

Deno.test("createDirStore() removes the temp files of a key that a killed archive left", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // kill -9 between writing the temp file and renaming it leaves `<key>.<8 hex>.tmp` behind.
    await Deno.mkdir(`${dir}/raw/logs/progress`, { recursive: true });
    await Deno.writeTextFile(`${dir}/raw/logs/progress/0.json.a692df84.tmp`, "{}");
    await Deno.writeTextFile(`${dir}/raw/logs/progress/1.json.cd2906ad.tmp`, "{}");
    await createDirStore(dir).put("raw/logs/progress/0.json", new TextEncoder().encode("{}"));
    const files = [...Deno.readDirSync(`${dir}/raw/logs/progress`)].map((e) => e.name).sort();
    assert.deepEqual(files, ["0.json", "1.json.cd2906ad.tmp"], "only the key's own leftovers");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createDirStore() stores nothing once the put's signal aborted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const aborted = AbortSignal.abort(new Error("generation ended"));
    await assert.rejects(
      createDirStore(dir).put("raw/a/0-0.ndjson.gz", new Uint8Array([1]), aborted),
      /generation ended/,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/raw/a`)], [], "no object, no temp file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("storeRefusal() tells a missing bucket and refused access from a store not answering yet", () => {
  const http = (httpStatusCode: number) =>
    Object.assign(new Error("x"), { $metadata: { httpStatusCode } });
  assert.match(storeRefusal(http(404), "s3://b")!, /^s3:\/\/b does not exist: create the bucket/);
  assert.match(storeRefusal(http(403), "s3://b")!, /^S3 refuses access to s3:\/\/b \(HTTP 403\)/);
  assert.equal(storeRefusal(http(503), "s3://b"), undefined);
  assert.equal(storeRefusal(new Error("connect ECONNREFUSED 127.0.0.1:9000"), "s3://b"), undefined);
  assert.match(
    storeRefusal(new Deno.errors.PermissionDenied("no"), "./data/archive")!,
    /fix ARCHIVE_DIR$/,
  );
});

Deno.test("createS3Client() with S3_ENDPOINT sends no flexible checksums, which S3-compatible stores may refuse", async () => {
  const seen: string[][] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.arrayBuffer();
    seen.push(
      [...req.headers.keys()].filter((h) => h.includes("checksum") || h === "x-amz-trailer"),
    );
    return new Response(null, { status: 200, headers: { etag: '"0"' } });
  });
  try {
    const client = createS3Client({
      S3_REGION: "us-east-1",
      S3_FORCE_PATH_STYLE: true,
      S3_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
      S3_ACCESS_KEY_ID: "k",
      S3_SECRET_ACCESS_KEY: "s",
      S3_REQUEST_TIMEOUT: 5000,
    });
    await createS3Store({ client, bucket: "b" }).put("raw/x.ndjson.gz", new Uint8Array([1, 2, 3]));
    client.destroy();
    assert.deepEqual(seen, [[]], "a PUT with no x-amz-checksum-* / x-amz-trailer header");
  } finally {
    await server.shutdown();
  }
});
