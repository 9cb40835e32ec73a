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
 * An SMTP server on a free loopback port that refuses the recipients in `refuse` (550), those in
 * `greylist` the first time it sees each (451, as greylisting does), and waits `delayMs` before
 * its greeting and each answer of the envelope and data.
 */
async function smtpServer(options: { refuse?: string[]; greylist?: string[]; delayMs?: number }) {
  const delivered: string[][] = [];
  /** The raw header block of each message delivered. */
  const headers: string[] = [];
  const greylisted = new Set<string>();
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
        const a = address.address;
        if (options.greylist?.includes(a) && !greylisted.has(a)) {
          greylisted.add(a);
          return cb(Object.assign(new Error(`Greylisted ${a}, try later`), { responseCode: 451 }));
        }
        if (!options.refuse?.includes(a)) return cb();
        cb(Object.assign(new Error(`No such user ${a}`), { responseCode: 550 }));
      });
    },
    onData(stream, session, cb) {
      let raw = "";
      stream.on("data", (chunk: Uint8Array) => raw += new TextDecoder().decode(chunk));
      stream.on("end", () =>
        later(() => {
          delivered.push(session.envelope.rcptTo.map((r) => r.address));
          headers.push(raw.split("\r\n\r\n")[0]!);
          cb();
        }));
    },
  });
  return { ...await listenLocal(server), delivered, headers };
}

/** `server` listening on a free loopback port: its port, and how to close it. */
async function listenLocal(server: SMTPServer) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** An SMTP server offering no STARTTLS that takes AUTH in clear and answers it with `onAuth`. */
function authServer(
  onAuth: NonNullable<NonNullable<ConstructorParameters<typeof SMTPServer>[0]>["onAuth"]>,
) {
  return listenLocal(
    new SMTPServer({
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      logger: false,
      closeTimeout: 100,
      disableReverseLookup: true,
      onAuth,
      onData(stream, _session, cb) {
        stream.resume();
        stream.on("end", () => cb());
      },
    }),
  );
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

/** The progress the delivery loop passes: the recipients that had their answer already. */
const progress = (recipientsDone: Record<string, string> = {}) => ({
  partsSent: 0,
  onPartSent: () => Promise.resolve(),
  recipientsDone,
});

Deno.test({
  name:
    "createEmailChannel() retries only the recipients the SMTP server refused for now (greylisting)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const smtp = await smtpServer({ greylist: ["grey@example.com"], refuse: ["gone@example.com"] });
    const to = ["ops@example.com", "grey@example.com", "gone@example.com"];
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "Vigil <vigil@example.com>",
      to,
      smtp: { host: "127.0.0.1", port: smtp.port, secure: false, timeoutMs: 5000 },
    });
    try {
      // Before: sent, with grey@ named in a warning; it never got this digest.
      const first = await ch.send(digest, AbortSignal.timeout(5000), progress());
      assert.ok(!first.ok && first.retryable && first.status === 451, JSON.stringify(first));
      assert.match(
        first.error,
        /^SMTP 127\.0\.0\.1:\d+ refused 1 of 3 recipients for now \(retried\): grey@example\.com \(451 Greylisted grey@example\.com, try later\); for good: gone@example\.com \(550 No such user gone@example\.com\)$/,
      );
      assert.deepEqual(first.recipients, {
        "ops@example.com": "accepted",
        "gone@example.com": "550 No such user gone@example.com",
      });
      assert.deepEqual(smtp.delivered, [["ops@example.com"]]);

      const second = await ch.send(digest, AbortSignal.timeout(5000), progress(first.recipients));
      assert.ok(second.ok, JSON.stringify(second));
      assert.deepEqual(second.recipients, { "grey@example.com": "accepted" });
      assert.match(
        second.warning ?? "",
        /^SMTP 127\.0\.0\.1:\d+ refused 1 of 3 recipients: gone@example\.com \(550 No such user gone@example\.com\)$/,
      );
      assert.deepEqual(smtp.delivered, [["ops@example.com"], ["grey@example.com"]], "no 2nd copy");
      // The same email: one Message-ID, addressed to all of them.
      const ids = smtp.headers.map((h) => h.match(/^Message-ID: (.*)$/im)?.[1]);
      assert.deepEqual(ids, ["<g-1-x-0@vigil.notifier>", "<g-1-x-0@vigil.notifier>"]);
      for (const h of smtp.headers) {
        assert.match(h, /^To: ops@example\.com, grey@example\.com, gone@example\.com$/m);
      }

      // Every recipient had its answer (a crash before the row said sent): nothing is sent.
      const third = await ch.send(
        digest,
        AbortSignal.timeout(5000),
        progress({ ...first.recipients, ...second.recipients }),
      );
      assert.ok(third.ok && /refused 1 of 3 recipients: gone@/.test(third.warning ?? ""));
      assert.equal(smtp.delivered.length, 2);
    } finally {
      ch.close();
      await smtp.close();
    }
  },
});

Deno.test({
  name:
    "createEmailChannel() retries a greylisted recipient when the server refused all, one of them for good",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const smtp = await smtpServer({ greylist: ["grey@example.com"], refuse: ["gone@example.com"] });
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "vigil@example.com",
      to: ["grey@example.com", "gone@example.com"],
      smtp: { host: "127.0.0.1", port: smtp.port, secure: false, timeoutMs: 5000 },
    });
    try {
      // Before: the last answer (550) made the digest failed for good, grey@ never got it.
      const first = await ch.send(digest, AbortSignal.timeout(5000), progress());
      assert.ok(!first.ok && first.retryable, JSON.stringify(first));
      assert.deepEqual(first.recipients, {
        "gone@example.com": "550 No such user gone@example.com",
      });
      const second = await ch.send(digest, AbortSignal.timeout(5000), progress(first.recipients));
      assert.ok(second.ok && /refused 1 of 2 recipients: gone@/.test(second.warning ?? ""));
      assert.deepEqual(smtp.delivered, [["grey@example.com"]]);
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
      // Unbounded, the conversation lasts at least 1,200 ms; the slack is for a loaded machine.
      assert.ok(took < 1100, `bounded by SEND_TIMEOUT (500 ms), took ${Math.round(took)} ms`);
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
    const server = await authServer((auth, _session, cb) => {
      passwords.push(String(auth.password));
      cb(null, { user: auth.username });
    });
    const port = server.port;
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
      await server.close();
    }
  },
});

Deno.test({
  name: "createEmailChannel() keeps the SMTP password out of an answer that echoes it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The error text goes to the log, the database and /api/notifications.
    const server = await authServer((auth, _session, cb) => {
      const text = `Invalid login ${auth.username}/${auth.password}`;
      cb(Object.assign(new Error(text), { responseCode: 535 }));
    });
    const port = server.port;
    const ch = createEmailChannel({
      webBaseUrl: "http://web",
      from: "vigil@example.com",
      to: ["ops@example.com"],
      smtp: { host: "127.0.0.1", port, secure: false, user: "u", password: "pw-h47-xyz" },
    });
    try {
      const r = await ch.send(digest, AbortSignal.timeout(5000));
      assert.ok(!r.ok && !r.retryable && r.status === 535, JSON.stringify(r));
      assert.match(r.error, /EAUTH: Invalid login: 535 Invalid login u\//);
      assert.doesNotMatch(r.error, /pw-h47-xyz/, r.error);
    } finally {
      ch.close();
      await server.close();
    }
  },
});
