/**
 * Text helpers. Cutting text to a length without cutting a character in two. JavaScript
 * strings count UTF-16 units: `s.slice(0, n)` can end between the two halves
 * of an emoji or any character past U+FFFF, leaving a lone surrogate, which
 * is no UTF-8 text: JSON carries it as `\ud83d`, PostgreSQL's `jsonb` refuses
 * it (a whole batch insert with it), and Discord or Slack may answer 400. And reading bytes as
 * UTF-8 strictly (an invalid sequence is refused, not replaced by U+FFFD).
 *
 * @module
 */

/** The first `max` UTF-16 units of `s`, one fewer when the cut would split a surrogate pair. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `bytes` as UTF-8 text (a leading byte order mark skipped), or null when they are not UTF-8. */
export function strictUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}
