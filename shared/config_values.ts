/**
 * Value checks of `config.ts` kept apart (that file is at its size limit): URLs and numbers.
 *
 * @module
 */
import { z } from "zod";

/** A URL's user or password as its client reads it (`decodeURIComponent`), or null if it cannot. */
function userinfoDecodes(url: URL): boolean {
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return true;
  } catch {
    return false;
  }
}

/**
 * A URL with one of the given protocols. A value that is none stops the
 * checks there (`abort`), so a refinement chained after this one may parse
 * the URL (zod runs the next checks after a failed one otherwise, and a
 * throw there ended a service with the URL, password included, in a trace).
 * A `%` in the user or password that is no `%XX` escape (`p%ss`) is refused
 * too: its client's `decodeURIComponent` threw "URI malformed" later (the
 * notifier with a stack trace, the others exit 1 without naming the variable);
 * and port 0, where nothing listens.
 */
export function urlVar(protocols: readonly string[], example: string) {
  return z.string().trim().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, { error: `is not a valid URL (expected e.g. ${example})`, abort: true }).refine(
    (s) => userinfoDecodes(new URL(s)),
    {
      error: "has a % in its user or password that is not a %XX escape: write % as %25",
      abort: true,
    },
  ).refine(
    // Nothing listens on port 0: every request failed (retried for ever), or a client took it
    // for "unset" and went to its default port (nodemailer: 587).
    (s) => new URL(s).port !== "0",
    {
      error: "names port 0 (give the server's port, or none for the scheme's default)",
      abort: true,
    },
  );
}

/** Decimal digits, with a sign or a fraction: what people mean by a number in a setting. */
const DECIMAL = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/;

/**
 * `schema` (a number's checks) read from decimal digits. `z.coerce.number()`
 * uses `Number()`, which read `0x1F90` as 8080, `0b1` as 1 and `1e3` as 1000.
 */
export function decimalVar<T extends z.ZodType<number>>(
  schema: T,
  error = "must be a number in decimal digits (e.g. 8080)",
) {
  return z.preprocess((v, ctx) => {
    if (typeof v !== "string") return v;
    if (DECIMAL.test(v)) return Number(v);
    ctx.addIssue({ code: "custom", message: error, input: v });
    return z.NEVER;
  }, schema);
}

/** A whole number in decimal digits from `min` (to `max` when given): most number settings. */
export function intVar(min: number, max?: number) {
  const n = z.number().int().min(min);
  return decimalVar(max === undefined ? n : n.max(max));
}
