/**
 * Helpers for the notifier's integration tests: alerts, a fake webhook
 * server (Discord/Slack/generic stand-in), a real in-process SMTP server,
 * and polling.
 *
 * @module
 */
import { SMTPServer } from "smtp-server";
import { type ParsedMail, simpleParser } from "mailparser";
import type { Redis } from "@vigil/shared/redis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import type { Alert } from "@vigil/shared/schemas/alert";
import { TEST_REDIS_URL } from "@vigil/tools/testing/redis";

let counter = 0;

/**
 * Alerts the notifier group has not acknowledged, read or not (pending + lag): XPENDING alone
 * is 0 before the notifier has read anything, so "settled" would hold at once on a busy machine.
 */
export async function unsettled(redis: Redis, keys: Keys): Promise<number> {
  const groups = await redis.xinfo("GROUPS", keys.alerts()) as unknown[][];
  for (const g of groups) {
    const f = Object.fromEntries(g.flatMap((v, i) => (i % 2 === 0 ? [[v, g[i + 1]]] : [])));
    if (f.name === GROUPS.notifier) return Number(f.pending) + Number(f.lag ?? Infinity);
  }
  return Infinity;
}

/** An alert JSON with sensible defaults. */
export function makeAlert(over: Partial<Alert> = {}): Alert {
  const n = ++counter;
  const now = new Date().toISOString();
  return {
    id: `al-${crypto.randomUUID().slice(0, 8)}-${n}`,
    status: "firing",
    detected_at: now,
    event_time: now,
    type: "metrics",
    rule: "cpu_high",
    severity: "WARNING",
    entity: `svc-${n}`,
    title: "CPU high",
    message: `cpu 97% on svc-${n}`,
    score: 4.2,
    details: { value: 97, threshold: 90 },
    evidence: [],
    resolved_at: null,
    trace_id: crypto.randomUUID().replaceAll("-", ""),
    stages: { event: Date.now() - 500 },
    ...over,
  };
}

/** XADD alerts (one pipeline); returns their stream ids. */
export async function publish(
  redis: Redis,
  keys: Keys,
  alerts: readonly Alert[],
): Promise<string[]> {
  const p = redis.pipeline();
  for (const a of alerts) p.xadd(keys.alerts(), "*", "alert", JSON.stringify(a));
  const res = await p.exec();
  return (res ?? []).map(([err, id]) => {
    if (err) throw err;
    return String(id);
  });
}

/** Poll `fn` until it returns a truthy value. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
}

/** A recorded request to the fake webhook server. */
export interface Recorded {
  at: number;
  path: string;
  headers: Headers;
  body: unknown;
  /** Status answered. */
  status: number;
}

/** A local HTTP server standing in for Discord/Slack/webhooks. */
export interface FakeHook {
  url: string;
  requests: Recorded[];
  /** Successful (2xx) requests only. */
  accepted(): Recorded[];
  /** Decide each answer; default 204. */
  respond: (req: { body: unknown; n: number }) => Response | Promise<Response>;
  close(): Promise<void>;
}

/** Start a fake webhook server on an ephemeral port. */
export function startFakeHook(path = "/hook"): FakeHook {
  const hook: FakeHook = {
    url: "",
    requests: [],
    accepted: () => hook.requests.filter((r) => r.status >= 200 && r.status < 300),
    respond: () => new Response(null, { status: 204 }),
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const text = await req.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* keep text */ }
    const res = await hook.respond({ body, n: hook.requests.length });
    hook.requests.push({
      at: Date.now(),
      path: new URL(req.url).pathname,
      headers: req.headers,
      body,
      status: res.status,
    });
    return res;
  });
  hook.url = `http://127.0.0.1:${server.addr.port}${path}`;
  return hook;
}

/** A real SMTP server (npm smtp-server) that can be stopped and restarted on the same port. */
export interface TestSmtp {
  port: number;
  messages: ParsedMail[];
  /** The envelope recipients of each message in `messages`. */
  envelopes: string[][];
  /** Connections refused from now on. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Start an in-process SMTP server; `port` 0 picks a free one. With `maxBytes` it refuses a
 * larger message with 552, as a mail server's size limit does (Postfix: 10 MB by default);
 * `refuse` answers a recipient with the refusal it returns (`[451, "Greylisted"]`), if any.
 */
export async function startSmtp(
  port = 0,
  options: { maxBytes?: number; refuse?: (recipient: string) => [number, string] | undefined } = {},
): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  const envelopes: string[][] = [];
  let server: SMTPServer | null = null;
  let actualPort = port;
  const listen = async () => {
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      ...(options.maxBytes ? { size: options.maxBytes } : {}),
      onRcptTo(address, _session, callback) {
        const refusal = options.refuse?.(address.address);
        if (!refusal) return callback();
        callback(Object.assign(new Error(refusal[1]), { responseCode: refusal[0] }));
      },
      onData(stream, session, callback) {
        simpleParser(stream).then((mail) => {
          if (stream.sizeExceeded) {
            const refusal = new Error("Message exceeds fixed maximum message size");
            return callback(Object.assign(refusal, { responseCode: 552 }));
          }
          messages.push(mail);
          envelopes.push(session.envelope.rcptTo.map((r) => r.address));
          callback();
        }, (error: Error) => callback(error));
      },
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(actualPort, "127.0.0.1", () => resolve());
    });
    const addr = s.server.address();
    if (addr && typeof addr === "object") actualPort = addr.port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return actualPort;
    },
    messages,
    envelopes,
    stop,
    start: listen,
    close: stop,
  };
}

/** Base env for an in-process or subprocess notifier under test. */
export function testEnv(opts: {
  prefix: string;
  databaseUrl: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    REDIS_URL: TEST_REDIS_URL,
    DATABASE_URL: opts.databaseUrl,
    VIGIL_PREFIX: opts.prefix,
    NOTIFIER_PORT: "0",
    LOG_LEVEL: "warn",
    GROUP_BY: "type,severity",
    GROUP_WAIT: "1s",
    GROUP_INTERVAL: "2s",
    REPEAT_INTERVAL: "4h",
    RETRY_BASE: "100ms",
    RETRY_CAP: "1s",
    SEND_TIMEOUT: "3s",
    EMAIL_TO: "ops@example.com",
    OUTBOX_DIR: "./data/test-outbox",
    ...opts.extra,
  };
}
