/**
 * The email channel against a real in-process SMTP server (`smtp-server`):
 * recipients it refuses, and a server that answers every step slowly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SMTPServer } from "smtp-server";
import type { Digest } from "../digest.ts";
import { createEmailChannel } from "./email.ts";

const digest: Digest = {
  id: "g-1-x-0",
  kind: "digest",
  route: "default",
  groupKey: "default|",
  groupLabels: {},
  createdAt: Date.parse("2025-03-01T10:22:00Z"),
  channels: ["email"],
  alerts: [],
  flapping: [],
  streamIds: [],
};

/**
 * An SMTP server on a free loopback port that refuses the recipients in `refuse` (550) and
 * waits `delayMs` before its greeting and each answer of the envelope and data.
 */
async function smtpServer(options: { refuse?: string[]; delayMs?: number }) {
  const delivered: string[][] = [];
  const later = (cb: () => void) => setTimeout(cb, options.delayMs ?? 0);
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    closeTimeout: 100,
    disableReverseLookup: true,
    onConnect: (_session, cb) => later(() => cb()),
    onMailFrom: (_address, _session, cb) => later(() => cb()),
    onRcptTo(address, _session, cb) {
      later(() => {
        if (!options.refuse?.includes(address.address)) return cb();
        cb(Object.assign(new Error(`No such user ${address.address}`), { responseCode: 550 }));
      });
    },
    onData(stream, session, cb) {
      stream.resume();
      stream.on("end", () =>
        later(() => {
          delivered.push(session.envelope.rcptTo.map((r) => r.address));
          cb();
        }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port,
    delivered,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

Deno.test({
  name:
    "createEmailChannel() reports the recipients the SMTP server refused when it accepted others",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const smtp = await smtpServer({ refuse: ["gone@example.com"] });
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "vigil@example.com",
      to: ["ops@example.com", "gone@example.com"],
      smtp: { host: "127.0.0.1", port: smtp.port, secure: false, timeoutMs: 5000 },
    });
    try {
      const r = await ch.send(digest, AbortSignal.timeout(5000));
      assert.ok(r.ok, "the digest reached ops@example.com: sent, not retried");
      assert.deepEqual(smtp.delivered, [["ops@example.com"]]);
      assert.match(
        r.warning ?? "",
        /^SMTP 127\.0\.0\.1:\d+ refused 1 of 2 recipients: gone@example\.com \(550 No such user gone@example\.com\)$/,
      );
    } finally {
      ch.close();
      await smtp.close();
    }
  },
});

Deno.test({
  name:
    "createEmailChannel() ends an attempt at SEND_TIMEOUT when the server answers every step slowly",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Each answer comes within nodemailer's socket timeout (500 ms), so its own timeouts never
    // fire: greeting, MAIL FROM, RCPT TO and DATA take 4 × 300 ms.
    const smtp = await smtpServer({ delayMs: 300 });
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "vigil@example.com",
      to: ["ops@example.com"],
      smtp: { host: "127.0.0.1", port: smtp.port, secure: false, timeoutMs: 500 },
    });
    try {
      const started = performance.now();
      const r = await ch.send(digest, AbortSignal.timeout(500));
      const took = performance.now() - started;
      assert.ok(took < 800, `bounded by SEND_TIMEOUT (500 ms), took ${Math.round(took)} ms`);
      assert.ok(!r.ok && r.retryable, JSON.stringify(r));
      assert.match(r.error, /^SMTP 127\.0\.0\.1:\d+: no answer within 500 ms/);
      // Let the abandoned conversation end before the server closes.
      await new Promise((resolve) => setTimeout(resolve, 1200));
    } finally {
      ch.close();
      await smtp.close();
    }
  },
});

Deno.test({
  name:
    "createEmailChannel() with requireTls sends no password to a server that offers no STARTTLS",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // nodemailer sent AUTH in clear to such a server (misconfigured, or the offer stripped).
    const passwords: string[] = [];
    const server = new SMTPServer({
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      logger: false,
      closeTimeout: 100,
      disableReverseLookup: true,
      onAuth(auth, _session, cb) {
        passwords.push(String(auth.password));
        cb(null, { user: auth.username });
      },
      onData(stream, _session, cb) {
        stream.resume();
        stream.on("end", () => cb());
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const addr = server.server.address();
    const port = typeof addr === "object" && addr ? addr.port : 0;
    const smtp = {
      host: "127.0.0.1",
      port,
      secure: false,
      user: "u",
      password: "hunter2",
      timeoutMs: 5000,
    };
    const send = async (requireTls: boolean) => {
      const ch = createEmailChannel({
        webBaseUrl: "http://web",
        from: "vigil@example.com",
        to: ["ops@example.com"],
        smtp: { ...smtp, requireTls },
      });
      try {
        return await ch.send(digest, AbortSignal.timeout(5000));
      } finally {
        ch.close();
      }
    };
    try {
      const refused = await send(true);
      assert.equal(refused.ok, false);
      assert.deepEqual(passwords, [], "no password sent");
      assert.match(refused.ok ? "" : refused.error, /STARTTLS/i);
      assert.equal((await send(false)).ok, true, "told otherwise (SMTP_REQUIRE_TLS=false)");
      assert.deepEqual(passwords, ["hunter2"]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
});
