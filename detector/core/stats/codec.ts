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
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).toBase64();
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
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).toBase64();
}

/**
 * Decodes text from {@link encodeUint16}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of uint16s.
 */
export function decodeUint16(text: string): Uint16Array {
  return new Uint16Array(base64ToBytes(text, "uint16", 2).buffer);
}

/** The bytes of base64 `text`: a whole number of `size`-byte `what` values. */
function base64ToBytes(text: string, what: string, size: number): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = Uint8Array.fromBase64(text);
  } catch {
    throw new TypeError(`Cannot decode ${what} data: not valid base64`);
  }
  if (bytes.length % size !== 0) {
    throw new TypeError(
      `Cannot decode ${what} data: ${bytes.length} bytes is not a multiple of ${size}`,
    );
  }
  return bytes;
}
