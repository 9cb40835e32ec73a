/**
 * The notifier's configuration, from the environment (and an optional
 * routes file, `NOTIFIER_ROUTES_FILE`).
 *
 * @module
 */
import { z } from "zod";
import {
  boolVar,
  claimIdleVar,
  commonEnv,
  decimalVar,
  durationBetween,
  durationVar,
  formatDuration,
  httpServerOptions,
  intVar,
  parseEnv,
  pathVar,
  portVar,
  urlVar,
} from "@vigil/shared/config";
import { retentionConfig, retentionEnv } from "@vigil/shared/retention/policy";
import { apiTokenVar } from "@vigil/shared/http/bearer";
import {
  type ChannelName,
  digestIntervalVar,
  groupByVar,
  leastStaleAfter,
  type Route,
} from "./routes.ts";
import { redisConnection } from "@vigil/shared/redis";
import type { SmtpSettings } from "./channels/email.ts";

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
const emailList = z.string().transform((s, ctx) => {
  const list = s.split(",").map((x) => x.trim()).filter(Boolean);
  const bad = list.find((x) => !ADDRESS.test(x));
  if (list.length === 0 || bad !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: `is not a list of email addresses${bad ? `: "${bad}"` : ""}`,
    });
    return z.NEVER;
  }
  // Each address once (any case): listed twice, it was in To twice and told of twice.
  return [...new Map(list.map((a) => [a.toLowerCase(), a])).values()];
});

/** Environment schema of the notifier. */
export const notifierEnv = z.object({
  ...commonEnv,
  NOTIFIER_PORT: portVar.default(9104),
  /** Consumer name in the `notifier` group (stable across restarts, so own pending entries are re-read). */
  NOTIFIER_CONSUMER: z.string().regex(/^[\w.-]{1,64}$/).default("notifier-1"),
  NOTIFIER_ROUTES_FILE: pathVar(["read"], "a file under ./data").optional(),
  SMTP_URL: urlVar(["smtp:", "smtps:"], "smtp://user:pass@mail.example.com:587")
    .refine((u) => new URL(u).hostname !== "", "names no host (e.g. smtp://mail.example.com:587)")
    .optional(),
  /** A host name or address alone: `mail.example.com:587` failed every send (no such host). */
  SMTP_HOST: z.string().trim().refine(
    (h) => /^[\w.-]+$/.test(h) || (/^[0-9a-f:.]+$/i.test(h) && h.split(":").length > 2),
    "is not a host name or address (the port goes in SMTP_PORT; or set SMTP_URL)",
  ).optional(),
  SMTP_PORT: decimalVar(
    z.number().int().min(1, "must be 1-65535 (0 sent to 587 or 465 instead)").max(65535),
  ).optional(),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  SMTP_SECURE: boolVar.optional(),
  /** STARTTLS required before AUTH (default: with a user, on a server that is not this host). */
  SMTP_REQUIRE_TLS: boolVar.optional(),
  /** An address, alone or after a display name: `vigil@example.com`, `Vigil <vigil@example.com>`. */
  // A name with , ; : " or \ unquoted is read by nodemailer as another address or a group:
  // `"Vigil <a@b>` sent MAIL FROM:<"Vigil  a"@b>, `Vigil, Ops <a@b>` sent From: Ops <a@b>.
  EMAIL_FROM: z.string().trim().refine(
    (s) => ADDRESS.test(/^(?:"[^"\\]*"\s*|[^<>",;:\\]*)<([^<>]*)>$/.exec(s)?.[1] ?? s),
    'is not an email address ("vigil@example.com" or "Vigil <vigil@example.com>"; a name ' +
      'with , ; : or " goes in double quotes, e.g. "Vigil, Ops" <vigil@example.com>)',
  ).default("Vigil <vigil@localhost>"),
  EMAIL_TO: emailList.default(["ops@localhost"]),
  OUTBOX_DIR: pathVar(["read", "write"], "a folder under ./data").default("./data/outbox"),
  DISCORD_WEBHOOK_URL: urlVar(["https:", "http:"], "https://discord.com/api/webhooks/…").optional(),
  SLACK_WEBHOOK_URL: urlVar(["https:", "http:"], "https://hooks.slack.com/services/…").optional(),
  WEBHOOK_URL: urlVar(["https:", "http:"], "https://example.com/hook").optional(),
  /**
   * Labels of the default route's groups. Default: none, one group, so a busy
   * installation gets at most one digest per GROUP_INTERVAL (12 an hour) per
   * channel; see docs/notifier.md "Volume".
   */
  GROUP_BY: groupByVar.default([]),
  GROUP_WAIT: durationVar.default(30_000),
  /** Alertmanager's default group_interval. */
  GROUP_INTERVAL: digestIntervalVar.default(5 * 60_000),
  REPEAT_INTERVAL: digestIntervalVar.default(4 * 3_600_000),
  CRITICAL_IMMEDIATE: boolVar.default(false),
  FLAP_THRESHOLD: intVar(0).default(4),
  FLAP_WINDOW: durationVar.default(3_600_000),
  /**
   * Longer than REPEAT_INTERVAL plus the longer of GROUP_WAIT and GROUP_INTERVAL (checked below).
   * @default 24h, or that plus REPEAT_INTERVAL when longer (`staleAfterDefault`)
   */
  STALE_AFTER: durationVar.optional(),
  RETRY_BASE: durationVar.pipe(
    z.number().min(100, "must be at least 100ms (0 would retry a failing channel without a pause)"),
  ).default(1000),
  /** At least RETRY_BASE (checked below). */
  RETRY_CAP: durationVar.default(120_000),
  GIVE_UP_AFTER: durationVar.pipe(
    z.number().min(
      1000,
      "must be at least 1s (0 would give every digest up before its first send)",
    ),
  ).default(24 * 3_600_000),
  /** A timer (AbortSignal.timeout): 0, or past 2^31-1 ms, ended every send at once. */
  SEND_TIMEOUT: durationBetween(1000, 600_000, "0 would end every send at once").default(10_000),
  /** Stream entries delivered this often without being stored are dead-lettered. */
  MAX_DELIVERIES: intVar(1).default(5),
  /** Entries of other consumers idle this long are claimed. */
  CLAIM_IDLE: claimIdleVar.default(60_000),
  /** Bearer token of `POST /api/test-notification` (the web's token); unset = 503. */
  VIGIL_API_TOKEN: apiTokenVar.optional(),
  WEB_BASE_URL: urlVar(["http:", "https:"], "http://localhost:8080").default(
    "http://localhost:8080",
  ),
  /** Retention of the database's growing tables (the notifier owns it; docs/operations.md). */
  ...retentionEnv,
}).superRefine((e, ctx) => {
  // The backoff is min(RETRY_CAP, RETRY_BASE·2^n): a smaller cap silently replaced the base.
  if (e.RETRY_CAP < e.RETRY_BASE) {
    ctx.addIssue({
      code: "custom",
      path: ["RETRY_CAP"],
      message: `must be at least RETRY_BASE (${formatDuration(e.RETRY_BASE)}): raise it or ` +
        "lower RETRY_BASE",
    });
  }
  smtpUnread(e, ctx);
  // A firing alert leaves its group at STALE_AFTER: earlier than its first repeat, none is sent.
  const least = leastStaleAfter({
    groupWaitMs: e.GROUP_WAIT,
    groupIntervalMs: e.GROUP_INTERVAL,
    repeatIntervalMs: e.REPEAT_INTERVAL,
  });
  if (e.STALE_AFTER !== undefined && e.STALE_AFTER <= least) {
    ctx.addIssue({
      code: "custom",
      path: ["STALE_AFTER"],
      message: "must be longer than REPEAT_INTERVAL plus the longer of GROUP_WAIT and " +
        `GROUP_INTERVAL (${formatDuration(least)}): a firing alert would leave its group ` +
        `before its first "still firing" repeat: raise it or lower REPEAT_INTERVAL`,
    });
  }
});

/**
 * SMTP settings that would not be read: without SMTP_HOST or SMTP_URL they were dropped and mail
 * went to the outbox; with SMTP_URL the URL's host, port, user and password win (an SMTP_PASSWORD
 * beside it was never sent, and every send failed at the server's AUTH).
 */
function smtpUnread(
  e: Partial<Record<(typeof SMTP_PARTS)[number] | "SMTP_URL" | "SMTP_HOST", unknown>>,
  ctx: z.RefinementCtx,
) {
  const url = e.SMTP_URL !== undefined;
  const unread = url
    ? (["SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD"] as const)
    : e.SMTP_HOST === undefined
    ? SMTP_PARTS
    : [];
  const message = url
    ? "is not read with SMTP_URL (the URL names the host, port, user and password: " +
      "smtp://user:pass@host:587): put it in SMTP_URL, or unset SMTP_URL and use SMTP_HOST"
    : "needs SMTP_HOST or SMTP_URL (without either, mail goes to OUTBOX_DIR): set " +
      "the server, or unset it";
  for (const name of unread) {
    if (e[name] !== undefined) ctx.addIssue({ code: "custom", path: [name], message });
  }
}

/** The SMTP settings that go with SMTP_HOST (SMTP_SECURE and SMTP_REQUIRE_TLS with SMTP_URL too). */
const SMTP_PARTS = [
  "SMTP_PORT",
  "SMTP_USER",
  "SMTP_PASSWORD",
  "SMTP_SECURE",
  "SMTP_REQUIRE_TLS",
] as const;

/**
 * `STALE_AFTER` unset: 24 h, or time for a repeat and another interval when `REPEAT_INTERVAL` is
 * that long (`REPEAT_INTERVAL=24h` alone stopped the notifier at start: no repeat before 24 h).
 */
function staleAfterDefault(route: Route): number {
  return Math.max(24 * 3_600_000, leastStaleAfter(route) + route.repeatIntervalMs);
}

/** A loopback host: a relay on this machine, reached without crossing a network. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1)$/i;

/** The resolved configuration ({@link loadConfig}). */
export type NotifierConfig = ReturnType<typeof loadConfig>;

/** The SMTP server of SMTP_URL (its host, port, user and password win) or SMTP_HOST. */
function smtpFrom(e: z.infer<typeof notifierEnv>): SmtpSettings | undefined {
  const u = e.SMTP_URL === undefined ? undefined : new URL(e.SMTP_URL);
  // nodemailer looked "[::1]" up as a name
  const host = u ? u.hostname.replace(/^\[(.*)\]$/, "$1") : e.SMTP_HOST;
  if (!host) return undefined;
  const port = u ? (u.port ? Number(u.port) : undefined) : e.SMTP_PORT;
  // TLS from the first byte for smtps: and for port 465.
  const secure = e.SMTP_SECURE ?? (u?.protocol === "smtps:" || port === 465);
  const user = u ? (u.username ? decodeURIComponent(u.username) : undefined) : e.SMTP_USER;
  const password = u ? (u.password ? decodeURIComponent(u.password) : undefined) : e.SMTP_PASSWORD;
  return {
    host,
    port: port ?? (secure ? 465 : 587),
    secure,
    // SMTP_REQUIRE_TLS, else on when a password would be sent to another machine: nodemailer
    // sends AUTH in clear to a server that offers no STARTTLS (misconfigured, or the offer
    // stripped on the way), so the password was readable on the network.
    requireTls: !secure && (e.SMTP_REQUIRE_TLS ?? (!!user && !LOOPBACK.test(host))),
    ...(user ? { user } : {}),
    ...(password ? { password } : {}),
  };
}

/**
 * Parse the notifier's environment.
 *
 * @throws {ConfigError} "Cannot start notifier: …" naming the bad variables
 */
export function loadConfig(env?: Record<string, string | undefined>) {
  const e = parseEnv("notifier", notifierEnv, env);
  const smtp = smtpFrom(e);
  // The channels configured: email always (SMTP or the outbox), the others with their URL.
  const channels: ChannelName[] = ["email"];
  if (e.DISCORD_WEBHOOK_URL) channels.push("discord");
  if (e.SLACK_WEBHOOK_URL) channels.push("slack");
  if (e.WEBHOOK_URL) channels.push("webhook");
  /** Routes from the file are put before it at start. */
  const defaultRoute: Route = {
    name: "default",
    match: {},
    channels,
    groupBy: e.GROUP_BY,
    groupWaitMs: e.GROUP_WAIT,
    groupIntervalMs: e.GROUP_INTERVAL,
    repeatIntervalMs: e.REPEAT_INTERVAL,
    criticalImmediate: e.CRITICAL_IMMEDIATE,
  };
  return {
    /** Redis: a URL, or a cluster's nodes (`REDIS_CLUSTER_NODES`). */
    redis: redisConnection(e),
    databaseUrl: e.DATABASE_URL,
    prefix: e.VIGIL_PREFIX,
    logLevel: e.LOG_LEVEL,
    /** Bind address and request-head guard of the HTTP server (`HTTP_*`). */
    http: httpServerOptions(e),
    port: e.NOTIFIER_PORT,
    consumer: e.NOTIFIER_CONSUMER,
    ...(e.NOTIFIER_ROUTES_FILE ? { routesFile: e.NOTIFIER_ROUTES_FILE } : {}),
    ...(smtp ? { smtp } : {}),
    emailFrom: e.EMAIL_FROM,
    emailTo: e.EMAIL_TO,
    outboxDir: e.OUTBOX_DIR,
    ...(e.DISCORD_WEBHOOK_URL ? { discordWebhookUrl: e.DISCORD_WEBHOOK_URL } : {}),
    ...(e.SLACK_WEBHOOK_URL ? { slackWebhookUrl: e.SLACK_WEBHOOK_URL } : {}),
    ...(e.WEBHOOK_URL ? { webhookUrl: e.WEBHOOK_URL } : {}),
    defaultRoute,
    flapThreshold: e.FLAP_THRESHOLD,
    flapWindowMs: e.FLAP_WINDOW,
    staleAfterMs: e.STALE_AFTER ?? staleAfterDefault(defaultRoute),
    retryBaseMs: e.RETRY_BASE,
    retryCapMs: e.RETRY_CAP,
    giveUpAfterMs: e.GIVE_UP_AFTER,
    sendTimeoutMs: e.SEND_TIMEOUT,
    maxDeliveries: e.MAX_DELIVERIES,
    claimIdleMs: e.CLAIM_IDLE,
    webBaseUrl: e.WEB_BASE_URL,
    /** Retention of old rows (run by one notifier instance at a time). */
    retention: retentionConfig(e),
    /** `VIGIL_API_TOKEN`: guards the test notification. */
    ...(e.VIGIL_API_TOKEN ? { apiToken: e.VIGIL_API_TOKEN } : {}),
  };
}
