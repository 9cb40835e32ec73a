/**
 * Exact, compact text encoding of `Float64Array`s for state checkpoints:
 * little-endian IEEE-754 bytes in base64 (≈10.7 characters per number,
 * every bit preserved, including NaN, ±Infinity and -0).
 *
 * @module
 */

/** Encodes `values` as base64 of their little-endian float64 bytes. */
export function encodeFloat64(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i]!, true);
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/**
 * Decodes text from {@link encodeFloat64}.
 *
 * @throws {TypeError} if `text` is not base64 of a whole number of float64s.
 */
export function decodeFloat64(text: string): Float64Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new TypeError("Cannot decode float64 data: not valid base64");
  }
  if (binary.length % 8 !== 0) {
    throw new TypeError(
      `Cannot decode float64 data: ${binary.length} bytes is not a multiple of 8`,
    );
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}
