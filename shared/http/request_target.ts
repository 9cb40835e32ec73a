/**
 * The request target and `Host` of a request head, as the serve guard checks them before Deno's
 * server sees them (`request_framing.ts`). Pure.
 *
 * @module
 */
import { strictUtf8 } from "../text.ts";

/** How a request head's bytes are read as text (one character per byte, as framing needs). */
export const latin1 = new TextDecoder("latin1");
/** The byte of each character `latin1` (windows-1252, per WHATWG) decodes 80–9F to. */
const LATIN1_BYTE = new Map(
  Array.from({ length: 32 }, (_, i) => [latin1.decode(new Uint8Array([0x80 + i])), 0x80 + i]),
);

/**
 * The request targets Deno takes: a path (`/…`), an absolute URL or `*`, of visible ASCII and
 * UTF-8 (raw UTF-8 is not RFC 9112's, but Deno takes it and curl sends it). Deno answers anything
 * else with an empty 400.
 */
const REQUEST_TARGET = /^(?:\/|[A-Za-z][A-Za-z0-9+.\-]*:\/\/)[\x21-\x7e\u0080-\uffff]*$|^\*$/;

/** Whether `target` (the head's bytes decoded by `latin1`) is a {@link REQUEST_TARGET} in UTF-8. */
export function validTarget(target: string): boolean {
  if (!REQUEST_TARGET.test(target)) return false;
  // deno-lint-ignore no-control-regex -- the ASCII range, not control characters
  if (/^[\x00-\x7f]*$/.test(target)) return true;
  // The head's bytes again (a spread of them overflowed the stack on a 1 MiB target).
  // A loop, not Uint8Array.from(target, map): that took ~290 ms on a 1 MiB target (~6× slower).
  const bytes = new Uint8Array(target.length);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    bytes[i] = c <= 0xff ? c : LATIN1_BYTE.get(target[i]!) ?? c;
  }
  return strictUtf8(bytes) !== null;
}

/**
 * RFC 9110's `Host`: a name (letters, digits, `-._~` and the sub-delims; ASCII), an IPv4 address
 * or a bracketed IPv6 literal, then an optional port. Deno.serve makes the request's URL
 * `http://<Host><target>` without checking it: `Host: <script>` made an invalid URL (a 500
 * wherever a handler parsed it) and `Host: a/b` moved the path the app routes by.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]*)(?::(\d{0,5}))?$/;

/** Why a request whose `Host` is not {@link validHost} is refused (the guard's and the app's answer). */
export const BAD_HOST = "Host is not a host name and port";

/**
 * Whether `value` is a `Host` (see {@link HOST}) that a URL takes as its host: `999.1.1.1`,
 * `1.2.3.4.5`, `[.]` or `:8080` are of HOST's characters, and the URL was invalid all the same.
 */
export function validHost(value: string): boolean {
  const m = HOST.exec(value);
  return m !== null && (m[1] === undefined || m[1] === "" || Number(m[1]) <= 65535) &&
    (value === "" || URL.canParse(`http://${value}/`));
}
