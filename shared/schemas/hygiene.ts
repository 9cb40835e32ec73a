/**
 * Text hygiene and bounds at the boundary, shared by the zod schemas of
 * `event.ts` and the canonical fast path of `canonical.ts`, so both apply
 * exactly the same rules. Pure: no I/O, no zod.
 *
 * Rules (the why is in `docs/ingest.md`):
 *
 * - **Identifiers** (`service`, `user_id`, `transaction_id`, `merchant`):
 *   no control character (C0 U+0000–U+001F with tab and newlines, DEL, C1
 *   U+0080–U+009F), no line or paragraph separator (U+2028, U+2029), no
 *   bidirectional control (U+202A–U+202E, U+2066–U+2069) and no lone
 *   surrogate: an id is shown in digests, chat and the web, where such a
 *   character breaks the line or reorders the text after it. Rejected, never
 *   repaired: two different raw ids must never become one entity.
 * - **Free text** (`message`, and every string inside an extra field): tab,
 *   LF and CR are kept; every other C0 control character (NUL included) and
 *   every lone surrogate becomes U+FFFD, as a lossy UTF-8 decoder would do.
 *   PostgreSQL text/jsonb cannot store NUL, and a lone surrogate is not
 *   UTF-8; a log line is evidence, so it is kept, visibly marked.
 * - **Extra fields** (keys the schema does not know): keys `__proto__`,
 *   `constructor` and `prototype` are dropped at every depth; a key with a
 *   control character or lone surrogate is rejected; numbers must be finite
 *   (`1e999` parses to Infinity) and `-0` becomes `0`; at most
 *   {@link ExtraLimits.maxFields} fields, {@link ExtraLimits.maxBytes} bytes
 *   of them serialised and {@link ExtraLimits.maxDepth} levels of nesting.
 * - **Duplicate keys** in the raw JSON text (at any depth) are rejected:
 *   `JSON.parse` keeps the last one, other readers the first, so the text is
 *   ambiguous (`duplicate_keys.ts`).
 *
 * @module
 */

/** Bounds on the fields an event carries beyond its schema's. */
export interface ExtraLimits {
  /** Extra (unknown) top-level fields at most. @default {32} */
  maxFields: number;
  /** UTF-8 bytes of the extra fields serialised (`"k":v,…`) at most. @default {8192} */
  maxBytes: number;
  /** Nesting levels of objects/arrays inside one extra field at most. @default {8} */
  maxDepth: number;
}

/** The documented defaults of {@link ExtraLimits}. */
export const DEFAULT_EXTRA_LIMITS: Readonly<ExtraLimits> = Object.freeze({
  maxFields: 32,
  maxBytes: 8192,
  maxDepth: 8,
});

/**
 * Resolve and validate limits.
 *
 * @throws {RangeError} when a limit is not a positive integer
 */
export function resolveExtraLimits(limits: Partial<ExtraLimits> = {}): Readonly<ExtraLimits> {
  const out = { ...DEFAULT_EXTRA_LIMITS, ...limits };
  for (const [name, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(
        `Cannot use extra-field limits: '${name}' must be a positive integer: current value is ${v}`,
      );
    }
  }
  return out;
}

/** Keys that are dropped wherever they appear in extra fields. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

// deno-lint-ignore no-control-regex
const BAD_TEXT_C0 = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const BAD_TEXT_C0_ALL = new RegExp(BAD_TEXT_C0, "g");

/** `U+0000`-style name of a UTF-16 code unit. */
function codePoint(c: number): string {
  return "U+" + c.toString(16).toUpperCase().padStart(4, "0");
}

/** A lone surrogate: a high one not followed by a low one, or a low one not after a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Index of the first code unit of `s` an identifier may not hold (a control character, U+2028,
 * U+2029, a bidirectional control, marks too: two RLMs in user-123456 show it as user-125634,
 * or an invisible character: `pay\u200bments` would show as a second `payments`), or -1. Lone
 * surrogates are not looked for.
 */
export function forbiddenInIdentifierAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x7f) {
      if (c < 0x20) return i;
    } else if (c <= 0x9f || isBidiControl(c) || isInvisible(c)) return i;
  }
  return -1;
}

/** U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069 (also U+2028–U+2029, for brevity). */
const isBidiControl = (c: number) =>
  c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) ||
  (c >= 0x2066 && c <= 0x2069);

/**
 * Characters that show as nothing and join nothing: the soft hyphen U+00AD, the zero width space
 * U+200B, the word joiner and invisible operators U+2060–U+2064, the byte order mark U+FEFF. (The
 * zero width joiners U+200C and U+200D are kept: scripts and emoji sequences need them.)
 */
const isInvisible = (c: number) =>
  c === 0x00ad || c === 0x200b || (c >= 0x2060 && c <= 0x2064) || c === 0xfeff;

/** Is `s` a clean identifier: no forbidden character ({@link forbiddenInIdentifierAt}), no lone surrogate? */
export function isCleanIdentifier(s: string): boolean {
  return forbiddenInIdentifierAt(s) === -1 && s.isWellFormed();
}

function characterKind(c: number): string {
  if (c === 0x2028) return "line separator";
  if (c === 0x2029) return "paragraph separator";
  if (isInvisible(c)) return "invisible character";
  return isBidiControl(c) ? "bidirectional control" : "control character";
}

/**
 * Why PostgreSQL cannot store `s` as text or jsonb (NUL, or a lone surrogate,
 * which is not UTF-8), or undefined when it can.
 */
export function unstorableTextProblem(s: string): string | undefined {
  if (s.includes("\u0000")) return "must not contain NUL characters";
  return loneSurrogateProblem(s);
}

/** The first lone surrogate of `s`, as a reason, or undefined when there is none. */
function loneSurrogateProblem(s: string): string | undefined {
  if (s.isWellFormed()) return undefined;
  const i = s.search(LONE_SURROGATE);
  return `lone surrogate ${codePoint(s.charCodeAt(i))} at position ${i} is not allowed`;
}

/** A control character free text people write has no use for: C0 but tab, LF and CR; DEL; C1. */
// deno-lint-ignore no-control-regex
const NOTE_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * Why `s` cannot be a note people wrote (a comment), or undefined: lines and tabs are fine, other
 * control characters are not (ESC and BEL were stored, and `jq -r` wrote them to a terminal).
 */
export function noteProblem(s: string): string | undefined {
  const at = s.search(NOTE_CONTROL);
  if (at === -1) return undefined;
  return `control character ${codePoint(s.charCodeAt(at))} at position ${at} is not allowed`;
}

/** Why `s` cannot be an identifier (first problem), or undefined when it is clean. */
export function identifierProblem(s: string): string | undefined {
  const at = forbiddenInIdentifierAt(s);
  if (at !== -1) {
    const c = s.charCodeAt(at);
    return `${characterKind(c)} ${codePoint(c)} at position ${at} is not allowed`;
  }
  return loneSurrogateProblem(s);
}

/**
 * What {@link escapeUnshown} writes as an escape: C0 controls, DEL and C1
 * controls (NEL U+0085 among them), the line and paragraph separators U+2028
 * and U+2029, the bidirectional controls (U+061C, U+200E, U+200F,
 * U+202A–U+202E, U+2066–U+2069), the byte order mark U+FEFF (invisible: a
 * message that starts with one read `Unexpected token ''`) and lone surrogates.
 */
const UNSHOWN_CHARACTER =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const UNSHOWN = new RegExp(`${UNSHOWN_CHARACTER.source}|${LONE_SURROGATE.source}`, "g");

/** JSON's short escapes. */
const SHORT_ESCAPES: Record<string, string> = {
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\f": "\\f",
  "\r": "\\r",
};

function escapeOne(c: string): string {
  return SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * `s` on one line, in the order it was written: each character of
 * {@link UNSHOWN} becomes its JSON escape (`\n`, `\t`, `\u2028`, `\u202e`,
 * `\ud800`), visible, so a terminal (`redis-cli XREVRANGE`) or a page can
 * neither break the line nor reorder the text after it, and the reader sees
 * which character it was (the bridge's dead-letter reasons, the replay's
 * error messages). Quoted parts (`JSON.stringify` of a key) stay valid JSON
 * strings of the same text.
 */
export function escapeUnshown(s: string): string {
  return s.replace(UNSHOWN, escapeOne);
}

/** Does free text `s` need {@link cleanText} (a C0 control other than tab/LF/CR, or a lone surrogate)? */
export function isCleanText(s: string): boolean {
  return !BAD_TEXT_C0.test(s) && s.isWellFormed();
}

/** Free text with every C0 control but tab/LF/CR, and every lone surrogate, replaced by U+FFFD. */
export function cleanText(s: string): string {
  if (isCleanText(s)) return s;
  return s.toWellFormed().replace(BAD_TEXT_C0_ALL, "\uFFFD");
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The UTF-8 byte length of `s`, as TextEncoder writes it (a lone surrogate as
 * U+FFFD, 3 bytes).
 */
export function utf8Length(s: string): number {
  if (!NON_ASCII.test(s)) return s.length;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 4 bytes for 2 units
      i++;
    } else n += 2;
  }
  return n;
}

/** A plain (non-array, non-null) object, as JSON.parse makes them. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Result of {@link cleanExtras}. */
export type ExtrasResult =
  | {
    ok: true;
    /** Cleaned extra fields, in the order they were given. */
    entries: [string, unknown][];
    /** Them serialised without braces: `"k":v,"k2":v2` ("" when none). */
    text: string;
    /** Whether anything was dropped or replaced. */
    changed: boolean;
  }
  | { ok: false; path: (string | number)[]; message: string };

/** The reason of extra fields over {@link ExtraLimits.maxBytes}. */
const tooLarge = (limits: ExtraLimits) => `extra fields larger than ${limits.maxBytes} bytes`;

class Reject {
  constructor(readonly path: (string | number)[], readonly message: string) {}
}

/** One value inside an extra field, cleaned; throws {@link Reject}. */
function cleanValue(
  v: unknown,
  path: (string | number)[],
  depth: number,
  limits: ExtraLimits,
  state: { changed: boolean },
): unknown {
  switch (typeof v) {
    case "string": {
      const c = cleanText(v);
      if (c !== v) state.changed = true;
      return c;
    }
    case "number":
      if (!Number.isFinite(v)) throw new Reject(path, "number out of range (not finite)");
      if (v === 0 && 1 / v < 0) {
        state.changed = true;
        return 0;
      }
      return v;
    case "boolean":
      return v;
    case "object": {
      if (v === null) return v;
      if (depth >= limits.maxDepth) {
        throw new Reject(path, `nested deeper than ${limits.maxDepth} levels`);
      }
      // Each item takes a byte and a comma (a key `"":0,`): too many cannot fit, whatever they hold.
      if (Array.isArray(v)) {
        if (2 * v.length > limits.maxBytes) throw new Reject([], tooLarge(limits));
        const out = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          out[i] = cleanValue(v[i], [...path, i], depth + 1, limits, state);
        }
        return out;
      }
      const keys = Object.keys(v);
      if (4 * (keys.length - PROTOTYPE_KEYS.size) > limits.maxBytes) {
        throw new Reject([], tooLarge(limits));
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        if (PROTOTYPE_KEYS.has(k)) {
          state.changed = true;
          continue;
        }
        const problem = identifierProblem(k);
        if (problem) throw new Reject([...path, k], `key: ${problem}`);
        out[k] = cleanValue(
          (v as Record<string, unknown>)[k],
          [...path, k],
          depth + 1,
          limits,
          state,
        );
      }
      return out;
    }
    default:
      // JSON.parse makes nothing else; a caller handing undefined/functions gets a reason.
      throw new Reject(path, `unsupported value of type ${typeof v}`);
  }
}

/**
 * Clean the extra fields `keys` of `event` (the keys its schema does not
 * know, in enumeration order) under `limits`, or say which one breaks them.
 */
export function cleanExtras(
  event: Record<string, unknown>,
  keys: readonly string[],
  limits: ExtraLimits = DEFAULT_EXTRA_LIMITS,
): ExtrasResult {
  const state = { changed: false };
  const entries: [string, unknown][] = [];
  const parts: string[] = [];
  let bytes = 0;
  try {
    for (const k of keys) {
      if (PROTOTYPE_KEYS.has(k)) {
        state.changed = true;
        continue;
      }
      const problem = identifierProblem(k);
      if (problem) return { ok: false, path: [k], message: `key: ${problem}` };
      if (entries.length === limits.maxFields) {
        return { ok: false, path: [], message: `more than ${limits.maxFields} extra fields` };
      }
      const value = cleanValue(event[k], [k], 0, limits, state);
      entries.push([k, value]);
      const part = JSON.stringify(k) + ":" + JSON.stringify(value);
      bytes += utf8Length(part) + (parts.length > 0 ? 1 : 0);
      if (bytes > limits.maxBytes) return { ok: false, path: [], message: tooLarge(limits) };
      parts.push(part);
    }
  } catch (error) {
    if (error instanceof Reject) return { ok: false, path: error.path, message: error.message };
    throw error;
  }
  return { ok: true, entries, text: parts.join(","), changed: state.changed };
}
