/**
 * Email over SMTP with nodemailer: subject with severity counts and window,
 * an HTML body (tables per severity) and a plain-text twin. The Message-ID is
 * derived from the digest id, so a re-delivery after a crash is recognisable
 * (and deduplicated by clients that do). A recipient the server refuses for
 * now (4xx: greylisting) makes the attempt a retry for the recipients without
 * an answer only; the others' answers are returned (`recipients`) and recorded
 * with the attempt. Without SMTP settings, digests are
 * written as `<digest id>.eml` files into an outbox folder (idempotent:
 * the same digest overwrites the same file).
 *
 * @module
 */
import nodemailer from "nodemailer";
import { ABORTED, untilAborted } from "@vigil/shared/lifecycle";
import type { Digest } from "../digest.ts";
import { digestHtml, digestSubject, digestText, type RenderOptions } from "../render.ts";
import type { Channel, SendResult } from "./channel.ts";
import { scrubUrls } from "./_http.ts";

/** A message for the transport. */
export interface MailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  messageId: string;
  headers: Record<string, string>;
  /** SMTP envelope, when it differs from the headers (a retry to some recipients only). */
  envelope?: { from: string; to: string[] };
}

/** The one nodemailer call we use (a narrow port). */
export interface MailTransport {
  sendMail(message: MailMessage): Promise<
    { message?: unknown; accepted?: unknown[]; rejected?: unknown[]; rejectedErrors?: unknown[] }
  >;
  close?(): void;
}

/** SMTP settings. */
export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  user?: string;
  password?: string;
  /**
   * Without `secure`: refuse to go on (and to send the password) unless the server upgrades
   * to TLS with STARTTLS. @default {false}
   */
  requireTls?: boolean;
  /** Connection/greeting/socket timeouts. @default {10000} */
  timeoutMs?: number;
}

/** Build the email for a digest. Pure. */
export function emailMessage(
  digest: Digest,
  options: RenderOptions & { from: string; to: string[] },
): MailMessage {
  return {
    from: options.from,
    to: options.to,
    subject: digestSubject(digest),
    text: digestText(digest, options),
    html: digestHtml(digest, options),
    messageId: `<${digest.id}@vigil.notifier>`,
    headers: { "X-Vigil-Digest-Id": digest.id, "X-Vigil-Route": digest.route },
  };
}

/**
 * `text` with each `secret` that stands alone (no letter or digit just before or after it) cut:
 * a short password replaced inside words ("e" in "failed") garbled the text and showed it.
 */
function cutWord(text: string, secret: string): string {
  const alnum = /[\p{L}\p{N}]/u;
  let out = "";
  let from = 0;
  for (let at = text.indexOf(secret); at !== -1; at = text.indexOf(secret, at + 1)) {
    if (at < from || alnum.test(text[at - 1] ?? "") || alnum.test(text[at + secret.length] ?? "")) {
      continue;
    }
    out += text.slice(from, at) + "***";
    from = at + secret.length;
  }
  return out + text.slice(from);
}

/**
 * Classify a nodemailer error: SMTP 5xx is permanent, everything else is retried. `server`
 * ("host:port") names the server in the text: nodemailer's own ("ETIMEDOUT: Timeout") does not.
 * `password` is cut from the text, should the server's answer echo it.
 */
export function classifySmtpError(
  error: unknown,
  server?: string,
  password?: string,
): SendResult {
  const e = error as { message?: string; code?: string; responseCode?: number };
  const code = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const permanent = code !== undefined && code >= 500 && code < 600;
  const said = e.message ?? String(error);
  const text = scrubUrls(
    `${server ? `SMTP ${server}: ` : ""}${e.code ? `${e.code}: ` : ""}${
      password ? cutWord(said, password) : said
    }`,
  ).slice(0, 300);
  return {
    ok: false,
    retryable: !permanent,
    error: text,
    ...(code !== undefined ? { status: code } : {}),
  };
}

/** A recipient the SMTP server refused, with its answer (`451 Greylisted, try later`). */
interface Refusal {
  recipient: string;
  response: string;
  code?: number;
}

/** `a@x (550 No such user), b@x (451 …)`. */
function refusalList(refused: readonly { recipient: string; response: string }[]): string {
  return refused.map((r) => (r.response ? `${r.recipient} (${r.response})` : r.recipient)).join(
    ", ",
  );
}

/**
 * The answers to one SMTP envelope: of `sent`, those the server refused (nodemailer's
 * `rejectedErrors`) for now (4xx: greylisting, a full mailbox) or for good (5xx), and the
 * rest, accepted (all refused when `allRefused`: nodemailer threw).
 */
export function recipientAnswers(
  sent: readonly string[],
  rejectedErrors: unknown,
  allRefused = false,
): { accepted: string[]; later: Refusal[]; never: Refusal[] } {
  const errors = (Array.isArray(rejectedErrors) ? rejectedErrors : []) as {
    recipient?: unknown;
    response?: unknown;
    responseCode?: unknown;
  }[];
  const same = (a: unknown, b: string) =>
    typeof a === "string" && a.toLowerCase() === b.toLowerCase();
  const out = { accepted: [] as string[], later: [] as Refusal[], never: [] as Refusal[] };
  for (const recipient of sent) {
    const e = errors.find((x) => same(x?.recipient, recipient));
    if (!e && !allRefused) {
      out.accepted.push(recipient);
      continue;
    }
    const response = typeof e?.response === "string" ? e.response : "";
    const code = typeof e?.responseCode === "number"
      ? e.responseCode
      : Number(response.match(/^\d{3}/)?.[0]) || undefined;
    const refusal = { recipient, response, ...(code !== undefined ? { code } : {}) };
    (code !== undefined && code >= 400 && code < 500 ? out.later : out.never).push(refusal);
  }
  return out;
}

/** The outcome of a send whose envelope the server answered recipient by recipient. */
function answered(
  answers: ReturnType<typeof recipientAnswers>,
  options: { to: string[]; at: string; done?: Readonly<Record<string, string>> },
): SendResult | undefined {
  const { accepted, later, never } = answers;
  const { at } = options;
  const recipients: Record<string, string> = {};
  for (const r of accepted) recipients[r] = "accepted";
  for (const r of never) recipients[r.recipient] = r.response || "refused";
  // With `done` (the delivery loop, which records `recipients`): retried for those refused for
  // now. Without (a test notification, not retried), they are refused like the rest.
  if (options.done && later.length > 0) {
    const forGood = never.length ? `; for good: ${refusalList(never)}` : "";
    return {
      ok: false,
      retryable: true,
      recipients,
      error: scrubUrls(
        `${at} refused ${later.length} of ${options.to.length} recipients for now (retried): ${
          refusalList(later)
        }${forGood}`,
      ).slice(0, 300),
      ...(later[0]!.code !== undefined ? { status: later[0]!.code } : {}),
    };
  }
  const all = { ...options.done, ...recipients };
  if (!Object.values(all).includes("accepted")) return undefined; // nobody got it: an error
  const refused = [
    ...options.to.flatMap((r) =>
      all[r] !== undefined && all[r] !== "accepted" ? [{ recipient: r, response: all[r]! }] : []
    ),
    ...later, // refused for now, not retried: only without `done` (else returned above)
  ];
  if (refused.length === 0) return { ok: true, recipients };
  const warning = scrubUrls(
    `${at} refused ${refused.length} of ${options.to.length} recipients: ${refusalList(refused)}`,
  ).slice(0, 300);
  return { ok: true, warning, recipients };
}

/** nodemailer SMTP transport for `smtp`. */
export function smtpTransport(smtp: SmtpSettings): MailTransport {
  const t = smtp.timeoutMs ?? 10_000;
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.requireTls ? { requireTLS: true } : {}),
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? "" } } : {}),
    connectionTimeout: t,
    greetingTimeout: t,
    socketTimeout: t,
    disableFileAccess: true,
    disableUrlAccess: true,
  }) as MailTransport;
}

/** Create the email channel: SMTP when `smtp` or `transport` is given, else the outbox folder. */
export function createEmailChannel(
  options: RenderOptions & {
    from: string;
    to: string[];
    smtp?: SmtpSettings;
    transport?: MailTransport;
    outboxDir?: string;
  },
): Channel & { readonly mode: "smtp" | "outbox"; close(): void } {
  const transport = options.transport ??
    (options.smtp ? smtpTransport(options.smtp) : undefined);
  const server = options.smtp && `${options.smtp.host}:${options.smtp.port}`;
  const at = `SMTP${server ? ` ${server}` : ""}`; // the server in error texts
  if (transport) {
    return {
      name: "email",
      mode: "smtp",
      async send(digest, signal, progress): Promise<SendResult> {
        if (signal.aborted) return { ok: false, retryable: true, error: "aborted" };
        // A retry goes to the recipients still without a final answer (greylisted), with the
        // same Message-ID and To: header; those who got the digest do not get it twice.
        const done = progress?.recipientsDone ?? (progress ? {} : undefined);
        const to = options.to.filter((r) => done?.[r] === undefined);
        const told = { to: options.to, at, ...(done ? { done } : {}) };
        if (to.length === 0) {
          return answered({ accepted: [], later: [], never: [] }, told) ??
            { ok: false, retryable: false, error: `${at}: all refused` };
        }
        const message = emailMessage(digest, options);
        if (to.length < options.to.length) message.envelope = { from: options.from, to };
        // nodemailer takes no AbortSignal, and its connection, greeting and socket timeouts
        // run one after another (a slow server answering each step within them held a send
        // for several SEND_TIMEOUTs): the attempt ends when `signal` aborts. The abandoned
        // conversation may still deliver; the retry's email has the same Message-ID.
        try {
          const info = await untilAborted(transport.sendMail(message), signal);
          if (info === ABORTED) {
            const within = options.smtp?.timeoutMs ? ` within ${options.smtp.timeoutMs} ms` : "";
            return {
              ok: false,
              retryable: true,
              error: `${at}: no answer${within} (SEND_TIMEOUT)`,
            };
          }
          return answered(recipientAnswers(to, info.rejectedErrors), told) ?? { ok: true };
        } catch (error) {
          // All refused (nodemailer throws, with the answer to the last): some maybe for now.
          const e = error as { code?: unknown; command?: unknown; rejectedErrors?: unknown };
          const each = e?.code === "EENVELOPE" && e.command === "RCPT TO" &&
            answered(recipientAnswers(to, e.rejectedErrors, true), told);
          return each || classifySmtpError(error, server, options.smtp?.password);
        }
      },
      close: () => transport.close?.(),
    };
  }
  const dir = options.outboxDir ?? "./data/outbox";
  // Renders the message to bytes (a Buffer).
  const render = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "windows",
  }) as MailTransport;
  return {
    name: "email",
    mode: "outbox",
    async send(digest: Digest): Promise<SendResult> {
      try {
        const info = await render.sendMail(emailMessage(digest, options));
        await Deno.mkdir(dir, { recursive: true });
        const file = `${dir}/${digest.id}.eml`;
        const tmp = `${file}.tmp`;
        await Deno.writeFile(tmp, info.message as Uint8Array);
        await Deno.rename(tmp, file);
        return { ok: true };
      } catch (error) {
        return {
          ok: false,
          retryable: true,
          error: `Cannot write outbox: ${(error as Error).message}`,
        };
      }
    },
    close: () => {},
  };
}
