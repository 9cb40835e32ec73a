/**
 * Duplicate keys in JSON text: `JSON.parse` keeps the last one, other
 * readers the first, so a text that sets a key twice in one object is
 * ambiguous and is refused (events, request bodies, rules and routes files).
 * So is a key `__proto__` in a record of a file ({@link recordOf}). Pure.
 *
 * @module
 */
import { z } from "zod";

/**
 * The first key that appears twice in one object of the JSON text `text`
 * (at any depth, after unescaping), or undefined. `text` must be valid JSON
 * (parse it first); linear in its length.
 */
export function findDuplicateKey(text: string): string | undefined {
  /** Per open container: the keys seen (objects) or null (arrays). */
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j++;
        } else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(i, j + 1);
        const key: string = escaped ? JSON.parse(raw) : raw.slice(1, -1);
        const seen = stack[stack.length - 1]!;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    }
  }
  return undefined;
}

/**
 * What to say of a JSON file (rules, routes) that sets a key twice in one
 * object, or undefined when none does: `JSON.parse` would keep only the last.
 */
export function duplicateKeyProblem(text: string): string | undefined {
  const key = findDuplicateKey(text);
  return key === undefined
    ? undefined
    : `key ${
      JSON.stringify(key)
    } appears twice in one object (JSON keeps only the last): remove or merge one`;
}

/**
 * `z.record(key, value)` that refuses a key `__proto__`, naming it: `JSON.parse` keeps it as a key
 * of its own, and zod's record dropped it silently (strict objects refuse it as unknown).
 */
export function recordOf<V extends z.ZodType>(key: z.ZodType<string>, value: V) {
  return z.preprocess((input, ctx) => {
    if (input !== null && typeof input === "object" && Object.hasOwn(input, "__proto__")) {
      ctx.addIssue({
        code: "custom",
        path: ["__proto__"],
        message: 'Invalid key in record: "__proto__"',
      });
    }
    return input;
  }, z.record(key, value));
}
