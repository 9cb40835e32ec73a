/**
 * Where the raw archive puts its objects: S3 (any S3-compatible server) or,
 * without S3 settings, a local folder with the same key layout. A put of an
 * existing key replaces it (that is what makes a retried batch idempotent).
 *
 * @module
 */
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

/** The archive's object store. */
export interface ArchiveStore {
  /** Where objects go, for logs (`s3://bucket` or a path). */
  readonly location: string;
  /** Store `body` under `key`, replacing any object there. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Is the store reachable (health check)? */
  check(): Promise<boolean>;
}

/** An S3 bucket as an {@link ArchiveStore}. */
/** An S3 client for the archive's settings (`archiveLocationEnv` in config.ts). */
export function createS3Client(config: {
  S3_REGION: string;
  S3_FORCE_PATH_STYLE: boolean;
  S3_ENDPOINT?: string | undefined;
  S3_ACCESS_KEY_ID?: string | undefined;
  S3_SECRET_ACCESS_KEY?: string | undefined;
}): S3Client {
  return new S3Client({
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT } : {}),
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

export function createS3Store(options: { client: S3Client; bucket: string }): ArchiveStore {
  const { client, bucket } = options;
  return {
    location: `s3://${bucket}`,
    async put(key, body) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/gzip",
        }),
      );
    },
    async check() {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    },
  };
}

/** A local folder as an {@link ArchiveStore}; writes are atomic (temp file + rename). */
export function createDirStore(dir: string): ArchiveStore {
  const root = dir.replace(/\/+$/, "");
  return {
    location: root,
    async put(key, body) {
      if (key.split("/").some((part) => part === ".." || part === "")) {
        throw new TypeError(`Cannot store object: bad key "${key}"`);
      }
      const path = `${root}/${key}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      await Deno.writeFile(tmp, body);
      await Deno.rename(tmp, path);
    },
    async check() {
      await Deno.mkdir(root, { recursive: true });
      return true;
    },
  };
}

/** Gzip bytes (web CompressionStream). */
export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Gunzip bytes to text. */
export async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}
