/**
 * Cutting text to a length without cutting a character in two. JavaScript
 * strings count UTF-16 units: `s.slice(0, n)` can end between the two halves
 * of an emoji or any character past U+FFFF, leaving a lone surrogate, which
 * is no UTF-8 text: JSON carries it as `\ud83d`, PostgreSQL's `jsonb` refuses
 * it (a whole batch insert with it), and Discord or Slack may answer 400.
 *
 * @module
 */

/** The first `max` UTF-16 units of `s`, one fewer when the cut would split a surrogate pair. */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
