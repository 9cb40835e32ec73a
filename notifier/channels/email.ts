/**
 * Email over SMTP with nodemailer: subject with severity counts and window,
 * an HTML body (tables per severity) and a plain-text twin. The Message-ID is
 * derived from the digest id, so a re-delivery after a crash is recognisable
 * (and deduplicated by clients that do). Without SMTP settings, digests are
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
 * Classify a nodemailer error: SMTP 5xx is permanent, everything else is retried. `server`
 * ("host:port") names the server in the text: nodemailer's own ("ETIMEDOUT: Timeout") does not.
 */
export function classifySmtpError(error: unknown, server?: string): SendResult {
  const e = error as { message?: string; code?: string; responseCode?: number };
  const code = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const permanent = code !== undefined && code >= 500 && code < 600;
  const text = scrubUrls(
    `${server ? `SMTP ${server}: ` : ""}${e.code ? `${e.code}: ` : ""}${
      e.message ?? String(error)
    }`,
  ).slice(0, 300);
  return {
    ok: false,
    retryable: !permanent,
    error: text,
    ...(code !== undefined ? { status: code } : {}),
  };
}

/**
 * The recipients an SMTP server refused while it accepted others (nodemailer then resolves, with
 * them in `rejected`): `SMTP host:port refused 1 of 2 recipients: a@x (550 No such user)`, or
 * undefined when it refused none.
 */
export function rejectedRecipients(
  info: { rejected?: unknown[]; rejectedErrors?: unknown[] },
  recipients: number,
  server?: string,
): string | undefined {
  const rejected = info.rejected ?? [];
  if (rejected.length === 0) return undefined;
  const errors = (info.rejectedErrors ?? []) as { recipient?: unknown; response?: unknown }[];
  const list = rejected.map((r) => {
    const response = errors.find((e) => e?.recipient === r)?.response;
    return typeof response === "string" ? `${r} (${response})` : String(r);
  });
  return scrubUrls(
    `SMTP${server ? ` ${server}` : ""} refused ${rejected.length} of ${recipients} recipients: ${
      list.join(", ")
    }`,
  ).slice(0, 300);
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

/** Transport that renders the message to bytes (for the outbox). */
function outboxTransport(): MailTransport {
  return nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "windows",
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
  if (transport) {
    return {
      name: "email",
      mode: "smtp",
      async send(digest: Digest, signal: AbortSignal): Promise<SendResult> {
        if (signal.aborted) return { ok: false, retryable: true, error: "aborted" };
        // nodemailer takes no AbortSignal, and its connection, greeting and socket timeouts
        // run one after another (a slow server answering each step within them held a send
        // for several SEND_TIMEOUTs): the attempt ends when `signal` aborts. The abandoned
        // conversation may still deliver; the retry's email has the same Message-ID.
        try {
          const info = await untilAborted(
            transport.sendMail(emailMessage(digest, options)),
            signal,
          );
          if (info === ABORTED) {
            const within = options.smtp?.timeoutMs ? ` within ${options.smtp.timeoutMs} ms` : "";
            return {
              ok: false,
              retryable: true,
              error: `SMTP${server ? ` ${server}:` : ":"} no answer${within} (SEND_TIMEOUT)`,
            };
          }
          const warning = rejectedRecipients(info, options.to.length, server);
          return warning ? { ok: true, warning } : { ok: true };
        } catch (error) {
          return classifySmtpError(error, server);
        }
      },
      close: () => transport.close?.(),
    };
  }
  const dir = options.outboxDir ?? "./data/outbox";
  const render = outboxTransport();
  return {
    name: "email",
    mode: "outbox",
    async send(digest: Digest): Promise<SendResult> {
      try {
        const info = await render.sendMail(emailMessage(digest, options));
        const bytes = info.message instanceof Uint8Array
          ? info.message
          : new TextEncoder().encode(String(info.message));
        await Deno.mkdir(dir, { recursive: true });
        const file = `${dir}/${digest.id}.eml`;
        const tmp = `${file}.tmp`;
        await Deno.writeFile(tmp, bytes);
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
