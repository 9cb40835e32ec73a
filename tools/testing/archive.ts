/**
 * Readers and writers of the raw archive's objects for tests: gzip and
 * gunzip (web CompressionStream), and a line's byte fields decoded.
 *
 * @module
 */
import type { Encoding } from "@vigil/archive/format";

/** Gzip bytes (web CompressionStream), one gzip member as the archive writes. */
export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Gunzip bytes to text. */
export async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/** Decode a field of an archive line back to its raw bytes. */
export function decodeField(text: string | null, encoding: Encoding): Uint8Array | null {
  if (text === null) return null;
  if (encoding === "utf8") return new TextEncoder().encode(text);
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
