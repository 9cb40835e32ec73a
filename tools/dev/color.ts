/**
 * ANSI colour for the dev runner's output: only on a terminal, and never
 * when `NO_COLOR` is set to anything non-empty (https://no-color.org), so
 * output redirected to a file or a pipe carries no escape codes.
 *
 * @module
 */

/** Whether to colour output: a terminal, and `NO_COLOR` unset or empty. */
export function colorEnabled(
  options: { isTerminal: boolean; noColor?: string | undefined },
): boolean {
  if (options.noColor !== undefined && options.noColor !== "") return false;
  return options.isTerminal;
}

/** `text` in SGR colour `code` (e.g. "36") when `enabled`, else as is. */
export function paint(text: string, code: string, enabled: boolean): string {
  return enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
}
