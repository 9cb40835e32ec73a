/**
 * The generator's seeded pseudo-random source and trace ids: same seed → same
 * sequence, so the generator's output is reproducible.
 *
 * @module
 */

/** A seeded pseudo-random source (sfc32 seeded by splitmix32). */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Standard normal (Box–Muller). */
  gaussian(): number;
  /** `bytes` random bytes as lowercase hex. */
  hex(bytes: number): string;
}

/** Create a deterministic PRNG from a seed. */
export function createPrng(seed: number): Prng {
  let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const next = () => u32() / 4294967296;
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!,
    gaussian: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    hex: (bytes) => {
      let out = "";
      for (let i = 0; i < bytes; i += 4) out += u32().toString(16).padStart(8, "0");
      return out.slice(0, bytes * 2);
    },
  };
}

/** A W3C traceparent: `00-<32 hex trace id>-<16 hex span id>-01` (ids never all zero). */
export function traceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}

/** `bytes` random bytes as hex, never all zero (a valid trace or span id). */
export function nonZeroHex(rng: Prng, bytes: number): string {
  const h = rng.hex(bytes);
  return /^0+$/.test(h) ? h.slice(0, -1) + "1" : h;
}
