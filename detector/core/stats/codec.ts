/**
 * Exact, compact text encoding of `Float64Array`s (and `Uint16Array`s) for
 * state checkpoints: little-endian bytes in base64 (≈10.7 characters per
 * float64, every bit preserved, including NaN, ±Infinity and -0; ≈2.7 per
 * uint16).
 *
 * @module
 */

/** Encodes `values` as base64 of their little-endian float64 bytes. */
export function encodeFloat64(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  return bytesToBase64(bytes);
}

/**
 * Decodes text from {@link encodeFloat64}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of float64s.
 */
export function decodeFloat64(text: string): Float64Array {
  const bytes = base64ToBytes(text, "float64");
  if (bytes.length % 8 !== 0) {
    throw new TypeError(
      `Cannot decode float64 data: ${bytes.length} bytes is not a multiple of 8`,
    );
  }
  const view = new DataView(bytes.buffer);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** Encodes `values` as base64 of their little-endian uint16 bytes. */
export function encodeUint16(values: Uint16Array): string {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, values[i]!, true);
  return bytesToBase64(bytes);
}

/**
 * Decodes text from {@link encodeUint16}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of uint16s.
 */
export function decodeUint16(text: string): Uint16Array {
  const bytes = base64ToBytes(text, "uint16");
  if (bytes.length % 2 !== 0) {
    throw new TypeError(`Cannot decode uint16 data: ${bytes.length} bytes is not a multiple of 2`);
  }
  const view = new DataView(bytes.buffer);
  const out = new Uint16Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint16(i * 2, true);
  return out;
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

function base64ToBytes(text: string, what: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError(`Cannot decode ${what} data: not valid base64`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
