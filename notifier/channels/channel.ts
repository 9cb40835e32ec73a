/**
 * The channel contract (Alertmanager's `Notify(ctx, alerts) (retry bool, err)`):
 * a channel sends one digest and says whether a failure is worth retrying.
 * 5xx, 429, 408, timeouts and refused connections are retryable (and the
 * webhook's 409: its Idempotency-Key still in progress); other 4xx (and
 * permanent SMTP 5xx) are not.
 *
 * A channel that splits a digest into several messages (Discord, Slack)
 * reports each accepted part through `progress`, so a retry resumes after
 * the last accepted part instead of re-sending it. Email reports each
 * recipient's answer (`recipients`, recorded with the attempt), so a retry
 * goes only to those the server refused for now (greylisting).
 *
 * @module
 */
import type { Digest } from "../digest.ts";

/**
 * Recipients that had their final answer, not to be sent to again: `accepted`, or the SMTP
 * server's permanent refusal (`550 No such user`).
 */
export type RecipientsDone = Record<string, string>;

/** Outcome of one send attempt. */
export type SendResult =
  | {
    ok: true;
    parts?: number;
    /** Accepted, but not by everyone: SMTP recipients the server refused (recorded and logged). */
    warning?: string;
    /** The recipients that had their final answer in this attempt (recorded with it). */
    recipients?: RecipientsDone;
  }
  | {
    ok: false;
    /** The recipients that had their final answer in this attempt (recorded with it). */
    recipients?: RecipientsDone;
    retryable: boolean;
    /** The server asked to wait this long (429 `retry_after`). */
    retryAfterMs?: number;
    error: string;
    /** HTTP status or SMTP response code, when there was one. */
    status?: number;
  };

/** A send that threw (a channel's bug, never a delivery problem), as a retryable failure. */
export function sendThrew(error: unknown): SendResult {
  return {
    ok: false,
    retryable: true,
    error: `Cannot send: ${(error as Error)?.message ?? String(error)}`,
  };
}

/** Durable progress through a multi-part digest. */
export interface SendProgress {
  /** Parts accepted by earlier attempts (skip them). */
  partsSent: number;
  /** Record that parts `0 … partsSent-1` were accepted. */
  onPartSent(partsSent: number): Promise<void>;
  /** Recipients that had their final answer in earlier attempts (skip them). */
  recipientsDone?: Readonly<RecipientsDone>;
}

/** One notification channel. */
export interface Channel {
  readonly name: string;
  /** Send `digest`; never throws for delivery problems (returns them). */
  send(digest: Digest, signal: AbortSignal, progress?: SendProgress): Promise<SendResult>;
}

/** A fetch-compatible function (tests may pass their own). */
export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
