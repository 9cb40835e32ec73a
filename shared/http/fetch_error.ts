/**
 * The text of an error `fetch` rejected with. Deno's fetch says only `fetch failed` and puts the
 * reason in `cause` (`error sending request for url (…): client error (Connect): tcp connect
 * error: Connection refused (os error 111)`, a DNS or TLS error, …): without it a refused
 * connection, an unknown host and a bad certificate read the same. The cause's `for url (…)` is
 * left out: a URL may carry a secret (a webhook's token), and the caller names what it called.
 *
 * @module
 */

/** `message`, then `: <cause>` when the cause says more (its URL left out). */
export function fetchErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : "";
  const reason = cause.replace(/ for url \([^)]*\)/g, "").trim();
  return reason && reason !== error.message ? `${error.message}: ${reason}` : error.message;
}
