/**
 * The send-with-retry stage, one independent loop per channel: take the
 * channel's oldest pending notification (checked in PostgreSQL before every
 * send, so an accepted digest is never sent again), send it, record the
 * attempt, and on a retryable failure wait `max(retry_after, backoff with
 * jitter)` before trying again. A down channel holds back only itself.
 *
 * Ordering within a channel is kept (head of line): while the oldest digest
 * backs off, the younger ones wait behind it. What a channel says it
 * delivered (parts, email recipients) is recorded, and a retry skips it.
 *
 * @module
 */
import { context, SpanKind, trace } from "@opentelemetry/api";
import { backoffMs, logRetry, retry } from "@vigil/shared/retry";
import type { Logger } from "@vigil/shared/log";
import type { Registry } from "@vigil/shared/metrics";
import { contextOf, failSpan, linksTo, traceFields, type Tracer } from "@vigil/shared/telemetry";
import { type Channel, type SendResult, sendThrew } from "./channels/channel.ts";
import type { NotifierStore, PendingNotification } from "./store.ts";

/** Options of the delivery stage. */
export interface DeliveryOptions {
  /** First retry delay. @default {1000} */
  retryBaseMs?: number;
  /** Longest retry delay. @default {120000} */
  retryCapMs?: number;
  /** Mark a notification failed when still unsent this long after it was planned. @default {86400000} */
  giveUpAfterMs?: number;
  /** Per-attempt timeout. @default {10000} */
  sendTimeoutMs?: number;
  /** Poll interval when idle. @default {500} */
  idleMs?: number;
  now?: () => number;
  random?: () => number;
}

/** Wakes sleeping channel loops when new notifications are planned. */
export class Waker {
  // A wait leaves the set when it ends: kept until the next wake() (a new digest), the waits of
  // an idle notifier (twice a second per channel) piled up for as long as it stayed quiet.
  #waiters = new Set<() => void>();
  /** Waits not ended yet. */
  get waiting(): number {
    return this.#waiters.size;
  }
  /** Resolve after `ms` or at the next `wake()`, whichever is first (never rejects). */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        if (!this.#waiters.delete(finish)) return;
        clearTimeout(timer);
        signal.removeEventListener("abort", finish);
        resolve();
      };
      this.#waiters.add(finish);
      const timer = setTimeout(finish, Math.max(0, ms));
      signal.addEventListener("abort", finish, { once: true });
    });
  }
  wake(): void {
    for (const f of [...this.#waiters]) f();
  }
}

/** Dependencies of {@link runChannel}. */
export interface DeliveryDeps {
  channel: Channel;
  store: NotifierStore;
  log: Logger;
  registry: Registry;
  waker: Waker;
  /**
   * When given (tracing on), each send attempt is a `notify <channel>` client
   * span that continues the trace of the digest's first alert (a child of its
   * anomaly span, `alert.traceparent`) and links to the other alerts' anomaly
   * spans. Absent: no span is made.
   */
  tracer?: Tracer;
}

/** `vigil_notifier_digests_total{channel,status}`: notifications that reached a final state. */
export function digestsCounter(registry: Registry) {
  return registry.counter(
    "vigil_notifier_digests_total",
    "Digests that reached a final state, by channel and status (sent/failed)",
    ["channel", "status"],
  );
}

/**
 * Whether `n` may be tried at `t`: its wait is over, or the clock was set back
 * past its last try (never tried: past when it was made) by NTP or a VM
 * restored. A retry 2 s away waited an hour for the clock to catch up, and the
 * digests queued behind it too. The store's `nextPending` reads by this rule.
 */
export function isDue(n: PendingNotification, t: number): boolean {
  return n.nextAttemptAt <= t || (n.lastAttemptAt ?? n.createdAt) > t;
}

/** Run one channel's delivery loop until `signal` aborts. An in-flight send is finished first. */
export async function runChannel(
  deps: DeliveryDeps,
  signal: AbortSignal,
  options: DeliveryOptions = {},
): Promise<void> {
  const { channel, store, waker } = deps;
  const log = deps.log.with({ channel: channel.name });
  const now = options.now ?? Date.now;
  const idleMs = options.idleMs ?? 500;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const giveUpAfterMs = options.giveUpAfterMs ?? 86_400_000;
  const m = {
    digests: digestsCounter(deps.registry),
    notifications: deps.registry.counter(
      "vigil_notifier_notifications_total",
      "Send attempts by channel and outcome (sent/failed/retried)",
      ["channel", "status"],
    ),
    seconds: deps.registry.histogram(
      "vigil_notifier_send_seconds",
      "Duration of one send attempt",
      ["channel"],
    ),
    e2e: deps.registry.histogram(
      "vigil_notifier_event_to_notified_seconds",
      "From the triggering event (alert.stages.event) to the channel accepting the digest",
      ["channel"],
      [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    ),
  };

  /** Write `fn` to PostgreSQL, retried while it is briefly unavailable. */
  const persist = (digestId: string, what: string, fn: () => Promise<void>, signal?: AbortSignal) =>
    retry(fn, {
      ...(signal ? { signal } : {}),
      baseMs: 200,
      capMs: 5000,
      jitter: false,
      onRetry: logRetry(log.with({ digest_id: digestId }), what),
    });
  // Record an outcome: the state must land before anything else happens for this channel
  // (not cut short by shutdown: the attempt happened).
  const record = (rec: Parameters<NotifierStore["recordAttempt"]>[0]) =>
    persist(rec.digestId, "record attempt", () => store.recordAttempt(rec));

  while (!signal.aborted) {
    const t = now();
    let next;
    try {
      // Its digest only when due: a storm's is megabytes, and a channel backing off looks often.
      next = await retry(() => store.nextPending(channel.name, t), {
        signal,
        baseMs: 500,
        capMs: 5000,
        onRetry: logRetry(log, "read pending notifications"),
      });
    } catch {
      break; // stopped while PostgreSQL was unavailable
    }
    if (!next) {
      await waker.wait(idleMs, signal);
      continue;
    }
    const { digest } = next;
    if (!isDue(next, t) || digest === null) {
      await waker.wait(Math.min(next.nextAttemptAt - t, 1000), signal);
      continue;
    }
    const attempt = next.attempts + 1;
    const alertIds = [...new Set(digest.alerts.map((a) => a.id))];
    const traceIds = [...new Set(digest.alerts.map((a) => a.trace_id).filter(Boolean))]
      .slice(0, 20);
    const base = { digestId: digest.id, channel: channel.name, attempt, alertIds };
    /** The recipients that had their answer in this attempt: recorded with it. */
    const told = (r: SendResult) => (r.recipients ? { recipients: r.recipients } : {});

    if (t - next.createdAt > giveUpAfterMs) {
      // The last failure stays in the row (the API's `error`): "gave up" alone said not why.
      const last = next.lastError ? `; the last: ${next.lastError}` : "";
      // A decision, not an attempt: the count stays, and no attempt row is made.
      await record({
        ...base,
        attempt: next.attempts,
        attempted: false,
        ok: false,
        status: "failed",
        retryable: false,
        error: `gave up after ${next.attempts} attempts${last}`.slice(0, 1000),
        durationMs: 0,
        at: t,
      });
      m.digests.inc({ channel: channel.name, status: "failed" });
      log.error("gave up on digest", {
        digest_id: digest.id,
        attempts: next.attempts,
        ...(next.lastError ? { last_error: next.lastError } : {}),
      });
      continue;
    }

    const started = performance.now();
    const contexts = digest.alerts.map((a) => a.traceparent);
    const parent = contexts.find((tp) => tp !== undefined);
    const span = deps.tracer?.startSpan(`notify ${channel.name}`, {
      kind: SpanKind.CLIENT,
      links: linksTo(contexts.filter((tp) => tp !== parent)),
      attributes: {
        "vigil.digest.id": digest.id,
        "vigil.digest.kind": digest.kind,
        "vigil.channel": channel.name,
        "vigil.attempt": attempt,
        "vigil.alerts": digest.alerts.length,
        "vigil.trace_ids": traceIds.join(","),
      },
    }, contextOf(parent));
    const sendDigest = () =>
      channel.send(digest, AbortSignal.timeout(sendTimeoutMs), {
        partsSent: next.partsSent,
        // Email: the recipients that had their answer; a retry goes to the others only.
        recipientsDone: next.recipientsDone ?? {},
        // A part the channel accepted is recorded before the next is sent, retried until
        // PostgreSQL takes it: a failure here made the whole send fail, and its retry sent
        // the accepted part again (Discord and Slack have no idempotency key).
        onPartSent: (n) =>
          persist(digest.id, "record part sent", () =>
            store.setPartsSent(digest.id, channel.name, n), signal),
      });
    // Traced, the channel's own requests (Deno's fetch spans) are the span's children.
    const sending = span
      ? context.with(trace.setSpan(context.active(), span), sendDigest)
      : sendDigest();
    const result = await sending.catch(sendThrew);
    const durationMs = performance.now() - started;
    const at = now();
    if (span) {
      if (!result.ok) {
        failSpan(span, result.error).setAttribute("vigil.retryable", result.retryable);
      }
      span.end();
    }
    const spanLog = span ? log.with(traceFields(span)) : log;
    m.seconds.observe({ channel: channel.name }, durationMs / 1000);

    if (result.ok) {
      // Accepted but not by everyone (SMTP recipients refused): sent, with who was left out.
      const warning = result.warning ? { error: result.warning } : {};
      await record({
        ...base,
        ok: true,
        status: "sent",
        ...warning,
        ...told(result),
        durationMs,
        at,
      });
      m.notifications.inc({ channel: channel.name, status: "sent" });
      m.digests.inc({ channel: channel.name, status: "sent" });
      // Each alert once, in the digest that first tells it (new, or resolved before any digest
      // told it firing): a change digest lists the group's older alerts again (still firing,
      // resolved), whose event is hours old by then.
      for (const a of digest.alerts) {
        const ev = a.stages.event;
        if ((a.firstTold ?? a.isNew) && typeof ev === "number" && ev > 0 && at >= ev) {
          m.e2e.observe({ channel: channel.name }, (at - ev) / 1000);
        }
      }
      spanLog.info("digest sent", {
        digest_id: digest.id,
        kind: digest.kind,
        alerts: digest.alerts.length,
        attempt,
        trace_ids: traceIds,
      });
      if (result.warning) {
        spanLog.warn("digest sent, not to everyone", {
          digest_id: digest.id,
          warning: result.warning,
        });
      }
      continue;
    }

    /** Record this failed attempt as `failed` (for good) or `pending` (retried at `nextAttemptAt`). */
    const recordFailure = (nextAttemptAt?: number) =>
      record({
        ...base,
        ok: false,
        status: nextAttemptAt === undefined ? "failed" : "pending",
        retryable: nextAttemptAt !== undefined,
        ...(result.status !== undefined ? { statusCode: result.status } : {}),
        error: result.error,
        ...told(result),
        durationMs,
        at,
        ...(nextAttemptAt !== undefined ? { nextAttemptAt } : {}),
      });
    if (!result.retryable) {
      await recordFailure();
      m.notifications.inc({ channel: channel.name, status: "failed" });
      m.digests.inc({ channel: channel.name, status: "failed" });
      spanLog.error("digest rejected, not retrying", { digest_id: digest.id, error: result.error });
      continue;
    }

    // The wait is stored (next_attempt_at), not slept, so the loop stays responsive.
    const backoff = backoffMs(attempt - 1, {
      baseMs: options.retryBaseMs ?? 1000,
      capMs: options.retryCapMs ?? 120_000,
      ...(options.random ? { random: options.random } : {}),
    });
    const delay = Math.max(backoff, result.retryAfterMs ?? 0);
    await recordFailure(at + delay);
    m.notifications.inc({ channel: channel.name, status: "retried" });
    spanLog.warn("send failed, will retry", {
      digest_id: digest.id,
      attempt,
      retry_in_ms: delay,
      error: result.error,
    });
  }
}
