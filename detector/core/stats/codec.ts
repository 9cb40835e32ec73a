/**
 * Exact, compact text encoding of `Float64Array`s (and `Uint16Array`s) for
 * state checkpoints: little-endian bytes in base64 (≈10.7 characters per
 * float64, every bit preserved, including NaN, ±Infinity and -0; ≈2.7 per
 * uint16).
 *
 * @module
 */

// Typed arrays use the host's byte order; every platform Deno runs on is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("Cannot load the checkpoint codec: the host is not little-endian");
}

/** Encodes `values` as base64 of their little-endian float64 bytes. */
export function encodeFloat64(values: Float64Array): string {
  return bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * Decodes text from {@link encodeFloat64}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of float64s.
 */
export function decodeFloat64(text: string): Float64Array {
  return new Float64Array(base64ToBytes(text, "float64", 8).buffer);
}

/** Encodes `values` as base64 of their little-endian uint16 bytes. */
export function encodeUint16(values: Uint16Array): string {
  return bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * Decodes text from {@link encodeUint16}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of uint16s.
 */
export function decodeUint16(text: string): Uint16Array {
  return new Uint16Array(base64ToBytes(text, "uint16", 2).buffer);
}

const ALPHABET = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
);
const PAD = 61; // "="
const ascii = new TextDecoder();

/** Standard base64 (RFC 4648, padded) of `bytes`, built as ASCII bytes then decoded once. */
function bytesToBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = ALPHABET[v >>> 18]!;
    out[o++] = ALPHABET[(v >>> 12) & 63]!;
    out[o++] = ALPHABET[(v >>> 6) & 63]!;
    out[o++] = ALPHABET[v & 63]!;
  }
  if (i < n) {
    const v = (bytes[i]! << 16) | (i + 1 < n ? bytes[i + 1]! << 8 : 0);
    out[o++] = ALPHABET[v >>> 18]!;
    out[o++] = ALPHABET[(v >>> 12) & 63]!;
    out[o++] = i + 1 < n ? ALPHABET[(v >>> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  return ascii.decode(out);
}

/** The bytes of base64 `text`: a whole number of `size`-byte `what` values. */
function base64ToBytes(text: string, what: string, size: number): Uint8Array<ArrayBuffer> {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError(`Cannot decode ${what} data: not valid base64`);
  }
  if (binary.length % size !== 0) {
    throw new TypeError(
      `Cannot decode ${what} data: ${binary.length} bytes is not a multiple of ${size}`,
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
