import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { withS3rver } from "@vigil/tools/testing/s3";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { type Encoding } from "../format.ts";
import { testKafka } from "@vigil/tools/testing/bridge";
import type { Kafka, KafkaMessage, Message } from "kafkajs";
import { decodeField, gunzip } from "@vigil/tools/testing/archive";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url).pathname;
const BUCKET = "vigil-archive-test";

interface Line {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  key_encoding: Encoding;
  value: string | null;
  value_encoding: Encoding;
  headers: [string, string | null, Encoding][];
}

function startArchive(env: Record<string, string>): Deno.ChildProcess {
  // The permissions of `deno task archive`.
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read=.vigil,./data",
      "--allow-write=./data",
      "--allow-sys=hostname,osRelease",
      "archive/main.ts",
    ],
    cwd: ROOT,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Messages with binary, empty and null values, keys and headers. */
async function produceMixed(kafka: Kafka, signal: AbortSignal): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  let n = 0;
  try {
    while (!signal.aborted) {
      const messages: Message[] = [];
      for (let i = 0; i < 60; i++, n++) {
        const kind = n % 5;
        messages.push({
          key: kind === 3 ? null : kind === 4 ? Buffer.from([0xc3, 0x28, n & 0xff]) : `k${n % 17}`,
          value: kind === 0
            ? JSON.stringify({ n, text: "héllo ✓", timestamp: Date.now() })
            : kind === 1
            ? Buffer.from([0xff, 0x00, 0xfe, n & 0xff, (n >> 8) & 0xff])
            : kind === 2
            ? null
            : kind === 3
            ? "\ufeffwith BOM " + n
            : "",
          headers: kind === 0
            ? { traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`, bin: Buffer.from([0x80]) }
            : {},
        });
      }
      await producer.sendBatch({
        topicMessages: EVENT_TYPES.map((topic, i) => ({
          topic,
          messages: messages.filter((_, j) => j % 3 === i),
        })),
      });
      await new Promise((r) => setTimeout(r, 15));
    }
  } finally {
    await producer.disconnect();
  }
}

async function listKeys(s3: S3Client): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, ...(token ? { ContinuationToken: token } : {}) }),
    );
    // Archived objects only (not the progress and gap records beside them).
    for (const o of page.Contents ?? []) if (o.Key!.endsWith(".ndjson.gz")) keys.push(o.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function readLines(s3: S3Client, keys: string[]): Promise<Line[]> {
  const out: Line[] = [];
  for (const key of keys) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const text = await gunzip(new Uint8Array(await obj.Body!.transformToByteArray()));
    const lines = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line);
    assert.match(
      key,
      /^raw\/(logs|metrics|transactions)\/dt=\d{4}-\d\d-\d\d\/hour=\d\d\/\d+-\d+\.ndjson\.gz$/,
    );
    assert.ok(key.endsWith(`/${lines[0]!.partition}-${lines[0]!.offset}.ndjson.gz`), key);
    out.push(...lines);
  }
  return out;
}

/** Every message in Kafka now, by `topic:partition:offset`. */
async function readKafka(kafka: Kafka, total: number) {
  const got = new Map<string, KafkaMessage>();
  const consumer = kafka.consumer({ groupId: `verify-${crypto.randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [...EVENT_TYPES], fromBeginning: true });
  await consumer.run({
    eachMessage: ({ topic, partition, message }) => {
      got.set(`${topic}:${partition}:${message.offset}`, message);
      return Promise.resolve();
    },
  });
  await waitFor(() => got.size >= total, { timeoutMs: 30_000, what: "verify consumer" });
  await consumer.disconnect();
  return got;
}

async function kafkaTotal(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let n = 0;
  for (const t of EVENT_TYPES) {
    for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high) - Number(p.low);
  }
  await admin.disconnect();
  return n;
}

Deno.test(
  "archive/main.ts restarted after SIGKILL mid-batch stores every message once, byte for byte",
  opts,
  async () => {
    await withS3rver(BUCKET, async ({ client: s3, endpoint, accessKeyId, secretAccessKey }) => {
      await withKafka({ brokers: 1, partitions: 2 }, async (cluster) => {
        const kafka = testKafka(cluster.brokers);
        const env = {
          KAFKA_BROKERS: cluster.bootstrap,
          S3_ENDPOINT: endpoint,
          S3_BUCKET: BUCKET,
          S3_ACCESS_KEY_ID: accessKeyId,
          S3_SECRET_ACCESS_KEY: secretAccessKey,
          S3_FORCE_PATH_STYLE: "true",
          ARCHIVE_PORT: "0",
          ARCHIVE_FLUSH_MESSAGES: "97",
          ARCHIVE_FLUSH_INTERVAL: "1500ms",
          ARCHIVE_SESSION_TIMEOUT: "6s",
          LOG_LEVEL: "error",
        };
        const stop = new AbortController();
        const producing = produceMixed(kafka, stop.signal);
        let child: Deno.ChildProcess | undefined = startArchive(env);
        try {
          await waitFor(async () => (await listKeys(s3)).length >= 20, {
            timeoutMs: 40_000,
            intervalMs: 50,
            what: "objects stored",
          });
          child.kill("SIGKILL");
          await child.status;
          child = startArchive(env);
          await new Promise((r) => setTimeout(r, 2000));
          stop.abort();
          await producing;
          const total = await kafkaTotal(kafka);
          assert.ok(total > 2000, `produced ${total}`);
          let lines: Line[] = [];
          await waitFor(async () => {
            // s3rver serves an object while its PUT is still streaming in, so a
            // poll can see a truncated gzip; the final read below must be clean.
            try {
              lines = await readLines(s3, await listKeys(s3));
            } catch {
              return false;
            }
            return lines.length >= total;
          }, { timeoutMs: 50_000, intervalMs: 500, what: "every message archived" });
          child.kill("SIGTERM");
          assert.equal((await child.status).code, 0, "graceful exit");
          child = undefined;

          // Once each: no offset in two objects.
          lines = await readLines(s3, await listKeys(s3));
          const coords = lines.map((l) => `${l.topic}:${l.partition}:${l.offset}`);
          assert.equal(new Set(coords).size, coords.length, "no duplicated offset");
          assert.equal(coords.length, total);
          // Byte for byte against what Kafka holds.
          const truth = await readKafka(kafka, total);
          for (const l of lines) {
            const m = truth.get(`${l.topic}:${l.partition}:${l.offset}`);
            assert.ok(m, "archived message exists in Kafka");
            const value = decodeField(l.value, l.value_encoding);
            const key = decodeField(l.key, l.key_encoding);
            assert.deepEqual(value && [...value], m.value && [...m.value]);
            assert.deepEqual(key && [...key], m.key && [...m.key]);
            assert.equal(l.timestamp, m.timestamp);
            const headers = Object.entries(m.headers ?? {}).map((
              [k, v],
            ) => [k, [...(v as Buffer)]]);
            assert.deepEqual(
              l.headers.map(([k, v, e]) => [k, [...decodeField(v, e)!]]),
              headers,
            );
          }
        } finally {
          stop.abort();
          await producing.catch(() => {});
          if (child) {
            try {
              child.kill("SIGKILL");
            } catch { /* gone */ }
            await child.status;
          }
        }
      });
    });
  },
);
