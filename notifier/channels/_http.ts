/**
 * POST JSON to a webhook and classify the answer for the retry stage.
 * Error texts never contain the URL (webhook URLs are secrets).
 *
 * @module
 */
import { fetchErrorText } from "@vigil/shared/http/fetch_error";
import type { Digest } from "../digest.ts";
import type { Channel, FetchFn, SendResult } from "./channel.ts";

/** Strip URLs (which may carry tokens) from an error text. */
export function scrubUrls(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s)"']+/gi, "<url>");
}

/**
 * The longest wait a receiver's Retry-After is honoured for: a receiver that answers
 * `Retry-After: 999999999` (or a date years ahead) would otherwise hold its digest for decades.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** The wait a 429's or 503's answer asks for (ms), before {@link MAX_RETRY_AFTER_MS} applies. */
function askedRetryAfterMs(res: Response, body: string, inSeconds: boolean): number | undefined {
  try {
    const json: unknown = JSON.parse(body);
    if (json && typeof json === "object" && "retry_after" in json) {
      const v = Number((json as { retry_after: unknown }).retry_after);
      // Discord API v8+: seconds (float); v6 (an unversioned URL): ms. Unknown: > 1000 is ms.
      if (Number.isFinite(v) && v >= 0) {
        return inSeconds || v <= 1000 ? Math.ceil(v * 1000) : v;
      }
    }
  } catch {
    // not JSON: fall back to the header
  }
  const h = res.headers.get("retry-after");
  if (h !== null) {
    const secs = Number(h);
    if (Number.isFinite(secs) && secs >= 0) return Math.ceil(secs * 1000);
    const at = Date.parse(h);
    if (!Number.isNaN(at)) return Math.max(0, at - Date.now());
  }
  return undefined;
}

/**
 * Cut the parts of `url` that may be its secret (the path of a Discord, Slack or generic webhook,
 * query values) from an answer's text: a receiver's error page may echo them (Express' default
 * `Cannot POST /hook/<token>`), and the error text goes to the log and the database.
 */
export function scrubTarget(text: string, url: string): string {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return text;
  }
  const parts = [
    target.pathname + target.search,
    target.pathname,
    target.search,
    ...target.pathname.split("/"),
    ...[...target.searchParams.values()],
  ].filter((p) => p.length >= 8).sort((a, b) => b.length - a.length);
  for (const part of new Set(parts)) {
    text = text.replaceAll(part, "<secret>").replaceAll(encodeURI(part), "<secret>");
  }
  return text;
}

/** What is read of an error answer's body, at most (for the error text and `retry_after`). */
const MAX_ERROR_BODY = 64 * 1024;

/** The start of a body, at most `max` bytes; the rest is not read (a receiver may send without end). */
async function readPrefix(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let left = max;
  try {
    while (left > 0) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value.subarray(0, left), { stream: true });
      left -= value.length;
    }
  } catch {
    // cut off or timed out: what was read is enough for an error text
  } finally {
    reader.cancel().catch(() => {});
  }
  return text + decoder.decode();
}

/**
 * POST `body` as JSON to `url`; 2xx → ok, 429/5xx/408/network → retryable (and 409 to an
 * `Idempotency-Key`), other 4xx → not; a 429's or 503's `Retry-After` (or `retry_after`) is
 * the wait asked, at most {@link MAX_RETRY_AFTER_MS}. A redirect is not followed and fails for
 * good: fetch would follow a 301/302/303 with a GET without the body, and the receiver's answer
 * to that GET would count as delivered.
 */
export async function postJson(
  fetchFn: FetchFn,
  url: string,
  body: unknown,
  options: {
    signal: AbortSignal;
    headers?: Record<string, string>;
    /** The body's `retry_after` is in seconds (Discord API v8+), however large. */
    retryAfterSeconds?: boolean;
  },
): Promise<SendResult> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...options.headers },
      body: JSON.stringify(body),
      signal: options.signal,
      redirect: "manual",
    });
  } catch (error) {
    const e = error as Error;
    const what = e.name === "AbortError" || e.name === "TimeoutError" ? "timed out or aborted" : "";
    return {
      ok: false,
      retryable: true,
      error: scrubUrls(`request failed: ${what || fetchErrorText(e)}`).slice(0, 300),
    };
  }
  if (res.ok) {
    res.body?.cancel().catch(() => {});
    return { ok: true };
  }
  if (res.status >= 300 && res.status < 400) {
    res.body?.cancel().catch(() => {});
    return {
      ok: false,
      retryable: false,
      status: res.status,
      error: `HTTP ${res.status}: the URL redirects (${
        res.headers.has("location") ? "to another address" : "without a Location"
      }); a redirected POST may lose its body, so it is not followed: set the channel's URL to the address it redirects to`,
    };
  }
  const text = await readPrefix(res, MAX_ERROR_BODY);
  const snippet = scrubUrls(scrubTarget(text, url)).slice(0, 200);
  // 429 and 503 (down for maintenance, RFC 9110 §10.2.3) may say when to come back: a 503's
  // `Retry-After` was not read, and the digest came back after 1 s, 2 s, 4 s, ….
  if (res.status === 429 || res.status === 503) {
    const asked = askedRetryAfterMs(res, text, options.retryAfterSeconds ?? false);
    const wait = asked === undefined ? undefined : Math.min(asked, MAX_RETRY_AFTER_MS);
    const after = wait !== undefined ? `, retry after ${wait} ms` : "";
    return {
      ok: false,
      retryable: true,
      status: res.status,
      error: res.status === 429 ? `rate limited (429)${after}` : `HTTP 503${after}: ${snippet}`,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  }
  // A 409 to a request with an Idempotency-Key: the receiver is still processing an earlier copy
  // (a timed-out attempt; IETF idempotency-key draft, Stripe); a retry gets its stored answer.
  const inProgress = res.status === 409 && new Headers(options.headers).has("idempotency-key");
  const retryable = res.status >= 500 || res.status === 408 || inProgress;
  return { ok: false, retryable, status: res.status, error: `HTTP ${res.status}: ${snippet}` };
}

/**
 * A channel that posts a digest as one or more JSON messages to `url`, in order, skipping those
 * accepted by earlier attempts and recording each accepted one, stopping at the first failure.
 */
export function jsonPartsChannel(
  name: string,
  url: string,
  fetchFn: FetchFn,
  messages: (digest: Digest) => readonly unknown[],
  post: { retryAfterSeconds?: boolean } = {},
): Channel {
  return {
    name,
    async send(digest, signal, progress) {
      const parts = messages(digest);
      for (let i = progress?.partsSent ?? 0; i < parts.length; i++) {
        const result = await postJson(fetchFn, url, parts[i], { ...post, signal });
        if (!result.ok) {
          const n = parts.length;
          return { ...result, error: n > 1 ? `part ${i + 1}/${n}: ${result.error}` : result.error };
        }
        await progress?.onPartSent(i + 1);
      }
      return { ok: true, parts: parts.length };
    },
  };
}
