/**
 * FNV-1a, 32 bits: a fast, stable, non-cryptographic string hash (shard
 * ownership of entities, digest ids).
 *
 * @module
 */

/** The 32-bit FNV-1a hash of `s`'s UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** {@link fnv1a} as 8 lowercase hex digits. */
export function fnv1aHex(s: string): string {
  return fnv1a(s).toString(16).padStart(8, "0");
}
