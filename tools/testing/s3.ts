/**
 * An S3-compatible server for tests: s3rver on a free local port with one
 * bucket, and a client for it; both closed afterwards.
 *
 * @module
 */
import { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

/** What {@link withS3rver} hands to its callback. */
export interface TestS3 {
  client: S3Client;
  /** `http://127.0.0.1:<port>` (S3_ENDPOINT). */
  endpoint: string;
  /** Credentials s3rver accepts (S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY). */
  accessKeyId: string;
  secretAccessKey: string;
}

/** Run `fn` against a fresh s3rver holding `bucket`. */
export async function withS3rver<T>(bucket: string, fn: (s3: TestS3) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "s3rver-" });
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  try {
    return await fn({ client, endpoint, ...credentials });
  } finally {
    client.destroy();
    await server.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
