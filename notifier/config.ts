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
import {
  type RetentionConfig,
  retentionConfig,
  retentionEnv,
} from "@vigil/shared/retention/policy";
import { apiTokenVar } from "@vigil/shared/http/bearer";
import {
  type ChannelName,
  digestIntervalVar,
  groupByVar,
  leastStaleAfter,
  type Route,
} from "./routes.ts";
import { type RedisConnection, redisConnection } from "@vigil/shared/redis";

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
  const least = defaultLeastStaleAfter(e);
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
  const set = SMTP_PARTS.filter((name) => e[name] !== undefined);
  if (e.SMTP_URL !== undefined) {
    for (const name of ["SMTP_HOST", ...set] as const) {
      if (e[name] === undefined || name === "SMTP_SECURE" || name === "SMTP_REQUIRE_TLS") continue;
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "is not read with SMTP_URL (the URL names the host, port, user and password: " +
          "smtp://user:pass@host:587): put it in SMTP_URL, or unset SMTP_URL and use SMTP_HOST",
      });
    }
  } else if (e.SMTP_HOST === undefined) {
    for (const name of set) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "needs SMTP_HOST or SMTP_URL (without either, mail goes to OUTBOX_DIR): set " +
          "the server, or unset it",
      });
    }
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

type DefaultTimers = { GROUP_WAIT: number; GROUP_INTERVAL: number; REPEAT_INTERVAL: number };

/** {@link leastStaleAfter} of the default route's timers. */
function defaultLeastStaleAfter(e: DefaultTimers): number {
  return leastStaleAfter({
    groupWaitMs: e.GROUP_WAIT,
    groupIntervalMs: e.GROUP_INTERVAL,
    repeatIntervalMs: e.REPEAT_INTERVAL,
  });
}

/**
 * `STALE_AFTER` unset: 24 h, or time for a repeat and another interval when `REPEAT_INTERVAL` is
 * that long (`REPEAT_INTERVAL=24h` alone stopped the notifier at start: no repeat before 24 h).
 */
function staleAfterDefault(e: DefaultTimers): number {
  return Math.max(24 * 3_600_000, defaultLeastStaleAfter(e) + e.REPEAT_INTERVAL);
}

/** SMTP settings, resolved. */
export interface SmtpConfig {
  host: string;
  port: number;
  secure: boolean;
  /** STARTTLS required (`SMTP_REQUIRE_TLS`): the password never goes out in clear. */
  requireTls: boolean;
  user?: string;
  password?: string;
}

/** A loopback host: a relay on this machine, reached without crossing a network. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

/**
 * `SMTP_REQUIRE_TLS`, else on when a password would be sent to another machine: nodemailer
 * sends AUTH in clear to a server that offers no STARTTLS (misconfigured, or the offer
 * stripped on the way), so the password was readable on the network.
 */
function requireTls(e: z.infer<typeof notifierEnv>, host: string, user: string | undefined) {
  return e.SMTP_REQUIRE_TLS ?? (user !== undefined && user !== "" && !LOOPBACK.test(host));
}

/** The resolved configuration. */
export interface NotifierConfig {
  /** Redis: a URL, or a cluster's nodes (`REDIS_CLUSTER_NODES`). */
  redis: RedisConnection;
  databaseUrl: string;
  prefix: string;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Bind address and request-head guard of the HTTP server (`HTTP_*`). */
  http: ReturnType<typeof httpServerOptions>;
  port: number;
  consumer: string;
  routesFile?: string;
  smtp?: SmtpConfig;
  emailFrom: string;
  emailTo: string[];
  outboxDir: string;
  discordWebhookUrl?: string;
  slackWebhookUrl?: string;
  webhookUrl?: string;
  /** The default route (routes from the file are put before it at start). */
  defaultRoute: Route;
  flapThreshold: number;
  flapWindowMs: number;
  staleAfterMs: number;
  retryBaseMs: number;
  retryCapMs: number;
  giveUpAfterMs: number;
  sendTimeoutMs: number;
  maxDeliveries: number;
  claimIdleMs: number;
  webBaseUrl: string;
  /** Retention of old rows (run by one notifier instance at a time). */
  retention: RetentionConfig;
  /** `VIGIL_API_TOKEN`: guards the test notification. */
  apiToken?: string;
}

function smtpFrom(e: z.infer<typeof notifierEnv>): SmtpConfig | undefined {
  if (e.SMTP_URL) {
    const u = new URL(e.SMTP_URL);
    // TLS from the first byte for smtps: and for port 465, as with SMTP_HOST/SMTP_PORT.
    const secure = e.SMTP_SECURE ?? (u.protocol === "smtps:" || u.port === "465");
    const user = u.username ? decodeURIComponent(u.username) : undefined;
    return {
      host: u.hostname.replace(/^\[(.*)\]$/, "$1"), // nodemailer looked "[::1]" up as a name
      port: u.port ? Number(u.port) : secure ? 465 : 587,
      secure,
      requireTls: !secure && requireTls(e, u.hostname, user),
      ...(user ? { user } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    };
  }
  if (e.SMTP_HOST) {
    const secure = e.SMTP_SECURE ?? e.SMTP_PORT === 465;
    return {
      host: e.SMTP_HOST,
      port: e.SMTP_PORT ?? (secure ? 465 : 587),
      secure,
      requireTls: !secure && requireTls(e, e.SMTP_HOST, e.SMTP_USER),
      ...(e.SMTP_USER ? { user: e.SMTP_USER } : {}),
      ...(e.SMTP_PASSWORD ? { password: e.SMTP_PASSWORD } : {}),
    };
  }
  return undefined;
}

/** Channel names configured (email is always on: SMTP or the outbox). */
export function configuredChannels(
  c: Pick<NotifierConfig, "discordWebhookUrl" | "slackWebhookUrl" | "webhookUrl">,
): ChannelName[] {
  const out: ChannelName[] = ["email"];
  if (c.discordWebhookUrl) out.push("discord");
  if (c.slackWebhookUrl) out.push("slack");
  if (c.webhookUrl) out.push("webhook");
  return out;
}

/**
 * Parse the notifier's environment.
 *
 * @throws {ConfigError} "Cannot start notifier: …" naming the bad variables
 */
export function loadConfig(env?: Record<string, string | undefined>): NotifierConfig {
  const e = parseEnv("notifier", notifierEnv, env);
  const smtp = smtpFrom(e);
  const c: NotifierConfig = {
    redis: redisConnection(e),
    databaseUrl: e.DATABASE_URL,
    prefix: e.VIGIL_PREFIX,
    logLevel: e.LOG_LEVEL,
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
    defaultRoute: {
      name: "default",
      match: {},
      channels: [],
      groupBy: e.GROUP_BY,
      groupWaitMs: e.GROUP_WAIT,
      groupIntervalMs: e.GROUP_INTERVAL,
      repeatIntervalMs: e.REPEAT_INTERVAL,
      criticalImmediate: e.CRITICAL_IMMEDIATE,
    },
    flapThreshold: e.FLAP_THRESHOLD,
    flapWindowMs: e.FLAP_WINDOW,
    staleAfterMs: e.STALE_AFTER ?? staleAfterDefault(e),
    retryBaseMs: e.RETRY_BASE,
    retryCapMs: e.RETRY_CAP,
    giveUpAfterMs: e.GIVE_UP_AFTER,
    sendTimeoutMs: e.SEND_TIMEOUT,
    maxDeliveries: e.MAX_DELIVERIES,
    claimIdleMs: e.CLAIM_IDLE,
    webBaseUrl: e.WEB_BASE_URL,
    retention: retentionConfig(e),
    ...(e.VIGIL_API_TOKEN ? { apiToken: e.VIGIL_API_TOKEN } : {}),
  };
  c.defaultRoute.channels = configuredChannels(c);
  return c;
}
