/**
 * Where the raw archive puts its objects: S3 (any S3-compatible server) or,
 * without S3 settings, a local folder with the same key layout. A put of an
 * existing key replaces it (that is what makes a retried batch idempotent).
 *
 * @module
 */
import {
  GetObjectCommand,
  HeadBucketCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { errorMessage } from "@vigil/shared/log";
import { retry, type RetryRounds } from "@vigil/shared/retry";
import type { WriteHealth } from "@vigil/shared/write_health";

/** The archive's object store. */
export interface ArchiveStore {
  /** Where objects go, for logs (`s3://bucket` or a path). */
  readonly location: string;
  /**
   * Store `body` under `key`, replacing any object there. Once `signal` aborts the put is not
   * made, or the request in flight is aborted (the store may still complete what it received).
   * `lastOffset`: the offset of the object's last message, kept where the store can (S3 user
   * metadata {@link LAST_OFFSET_META}) for the web's evidence lookup.
   */
  put(key: string, body: Uint8Array, signal?: AbortSignal, lastOffset?: string): Promise<void>;
  /** The object under `key`, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** Is the store reachable (health check)? */
  check(): Promise<boolean>;
}

/**
 * S3 user metadata (`x-amz-meta-vigil-last-offset`) of an archive object: the offset of its last
 * message. The web reads it with one HeadObject to check that an object it found by its key (first
 * offset) holds an event (web/archive_span.ts).
 */
export const LAST_OFFSET_META = "vigil-last-offset";

/**
 * Why the store cannot be used however long one waits (the bucket does not
 * exist, access is refused, the folder cannot be written), or undefined for
 * a failure worth waiting out (the store not answering yet).
 */
export function storeRefusal(error: unknown, location: string): string | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata
    ?.httpStatusCode;
  if (status === 404) {
    return `${location} does not exist: create the bucket, or fix S3_BUCKET (and S3_ENDPOINT)`;
  }
  if (status === 401 || status === 403) {
    return `S3 refuses access to ${location} (HTTP ${status}): check S3_ACCESS_KEY_ID, ` +
      "S3_SECRET_ACCESS_KEY and the bucket's policy";
  }
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotADirectory) {
    return `cannot write ${location} (${errorMessage(error)}): fix ARCHIVE_DIR`;
  }
  return undefined;
}

/** Options of {@link retrying}. */
export interface PutRetryOptions {
  /** What is stored, for the log lines of its attempts. */
  what: string;
  /** The log of every put loop of the archive: one warning for all the objects failing together. */
  rounds: RetryRounds;
  /** Once aborted (shutdown), give up after 3 attempts rather than hold the shutdown. */
  stopping: AbortSignal;
  /**
   * The put's claim (the consumer group generation its object was read in): once aborted, no
   * further attempt is made, the one in flight is aborted and the put throws the signal's reason.
   */
  signal?: AbortSignal | undefined;
  /** Called on every failed put (the store-errors counter). */
  onError?: () => void;
  /** Told of every failed and stored put, by key (the `store` health check). */
  writes?: Pick<WriteHealth, "failed" | "stored">;
}

/**
 * Run `write` (a put for `key`, or a write that goes with it, given the put's claim) until it goes
 * through, on the shared retry loop (200 ms … 10 s backoff), the claim ended, or 3 attempts once
 * stopping. A put replaces, so a retried put is idempotent.
 *
 * @throws the last error when `stopping` aborted and 3 attempts failed
 * @throws `signal`'s reason once it aborted
 */
export async function retrying(
  key: string,
  write: (signal: AbortSignal | undefined) => Promise<void>,
  options: PutRetryOptions,
): Promise<void> {
  let attempts = 0;
  const { signal, rounds } = options;
  try {
    await retry(async (attempt) => {
      attempts = attempt;
      signal?.throwIfAborted();
      try {
        await write(signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        options.onError?.();
        options.writes?.failed(key, error);
        throw error;
      }
      options.writes?.stored(key);
    }, {
      baseMs: 200,
      capMs: 10_000,
      isRetryable: () => !options.stopping.aborted || attempts < 3,
      ...(signal ? { signal } : {}),
      onRetry: (info) => rounds.failed(key, info, { what: options.what }),
    });
  } finally {
    rounds.ended(key);
  }
}

/** An S3 client for the archive's settings (`archiveLocationEnv` in config.ts). */
export function createS3Client(config: {
  S3_REGION: string;
  S3_FORCE_PATH_STYLE: boolean;
  S3_ENDPOINT?: string | undefined;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
  S3_REQUEST_TIMEOUT: number;
}): S3Client {
  return new S3Client({
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    // Without a deadline a store that accepts the connection and never answers (or a connection
    // dropped on the way without a reset) holds the request forever: the archive stops archiving
    // and says nothing. The SDK's requestTimeout only warns unless told to throw.
    requestHandler: {
      connectionTimeout: Math.min(5000, config.S3_REQUEST_TIMEOUT),
      requestTimeout: config.S3_REQUEST_TIMEOUT,
      throwOnRequestTimeout: true,
    },
    // An S3-compatible store (MinIO, Ceph, R2, B2, …): no flexible checksums, which the SDK sends
    // on every PUT by default since 2025 (x-amz-checksum-crc32) and some such stores refuse or
    // cannot check (the AWS-documented setting for third-party stores). AWS itself keeps them.
    ...(config.S3_ENDPOINT
      ? {
        endpoint: config.S3_ENDPOINT,
        requestChecksumCalculation: "WHEN_REQUIRED" as const,
        responseChecksumValidation: "WHEN_REQUIRED" as const,
      }
      : {}),
    ...(config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
      ? {
        credentials: {
          accessKeyId: config.S3_ACCESS_KEY_ID,
          secretAccessKey: config.S3_SECRET_ACCESS_KEY,
        },
      }
      : {}),
  });
}

/** An S3 bucket as an {@link ArchiveStore}. */
export function createS3Store(options: { client: S3Client; bucket: string }): ArchiveStore {
  const { client, bucket } = options;
  return {
    location: `s3://${bucket}`,
    async put(key, body, signal, lastOffset) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/gzip",
          ...(lastOffset === undefined ? {} : { Metadata: { [LAST_OFFSET_META]: lastOffset } }),
        }),
        signal ? { abortSignal: signal } : {},
      );
    },
    async get(key) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === "NoSuchKey") {
          return null;
        }
        throw error;
      }
    },
    async check() {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    },
  };
}

/**
 * A local folder as an {@link ArchiveStore}; writes are atomic (temp file + rename). A folder keeps
 * no metadata: the web reads an object to learn its last offset.
 */
export function createDirStore(dir: string): ArchiveStore {
  const root = dir.replace(/\/+$/, "");
  /** The file of `key`, checked before `what` (store or read) can leave the folder. */
  const pathOf = (key: string, what: string) => {
    if (key.split("/").some((part) => part === ".." || part === "")) {
      throw new TypeError(`Cannot ${what} object: bad key "${key}"`);
    }
    return `${root}/${key}`;
  };
  return {
    location: root,
    async put(key, body, signal) {
      const path = pathOf(key, "store");
      const folder = path.slice(0, path.lastIndexOf("/"));
      await Deno.mkdir(folder, { recursive: true });
      const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await Deno.writeFile(tmp, body);
      if (signal?.aborted) {
        await Deno.remove(tmp).catch(() => {});
        signal.throwIfAborted();
      }
      await Deno.rename(tmp, path);
      // A process killed between the write and the rename left its temp file: stored now, drop it.
      const name = path.slice(folder.length + 1);
      for await (const e of Deno.readDir(folder)) {
        const rest = e.name.startsWith(`${name}.`) ? e.name.slice(name.length + 1) : "";
        if (/^[\da-f]{8}\.tmp$/.test(rest)) {
          await Deno.remove(`${folder}/${e.name}`).catch(() => {});
        }
      }
    },
    async get(key) {
      try {
        return await Deno.readFile(pathOf(key, "read"));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
    async check() {
      await Deno.mkdir(root, { recursive: true });
      return true;
    },
  };
}

/** An object's gzip stream, written line by line, read once at the end. */
export interface GzipWriter {
  /** Queue text (sync); call {@link GzipWriter.drain} when {@link GzipWriter.queued} is large. */
  add(text: string): void;
  /** Characters queued and not yet compressed. */
  readonly queued: number;
  /** Compress the queued text. */
  drain(): Promise<void>;
  /** Compress the rest and end the stream: the whole gzip member. */
  finish(): Promise<Uint8Array<ArrayBuffer>>;
  /** Drop everything (the buffer is abandoned). */
  abort(): void;
}

const textEncoder = new TextEncoder();

/**
 * A streaming gzip writer (web CompressionStream): text is queued, then
 * compressed in pieces, and only compressed bytes are kept, so an open
 * object costs its compressed size plus the compressor's state, not its
 * text. Concatenated output is one gzip member.
 */
export function createGzipWriter(): GzipWriter {
  const stream = new CompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const chunks: Uint8Array[] = [];
  let compressed = 0;
  let queue: string[] = [];
  let queued = 0;
  const reading = (async () => {
    const reader = stream.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      chunks.push(value);
      compressed += value.length;
    }
  })();
  reading.catch(() => {}); // surfaced by finish(); an abort rejects it on purpose
  async function drain(): Promise<void> {
    if (queued === 0) return;
    const text = queue.length === 1 ? queue[0]! : queue.join("");
    queue = [];
    queued = 0;
    await writer.write(textEncoder.encode(text));
  }
  return {
    add(text) {
      queue.push(text);
      queued += text.length;
    },
    get queued() {
      return queued;
    },
    drain,
    async finish() {
      await drain();
      await writer.close();
      await reading;
      const out = new Uint8Array(compressed);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      chunks.length = 0;
      return out;
    },
    abort() {
      queue = [];
      queued = 0;
      chunks.length = 0;
      writer.abort().catch(() => {});
    },
  };
}
