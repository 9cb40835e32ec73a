import assert from "node:assert/strict";
import { contrastRatio } from "@vigil/tools/testing/contrast";
import type { Digest, DigestAlert } from "./digest.ts";
import {
  clip,
  DIGEST_MAX_FLAPPING,
  DIGEST_MAX_ROWS,
  digestHtml,
  digestSubject,
  digestText,
  EMAIL_MAX_MESSAGE,
  oneLine,
} from "./render.ts";
import { discordMessages } from "./channels/discord.ts";
import { slackMessages } from "./channels/slack.ts";
import { webhookPayload } from "./channels/webhook.ts";

function a(over: Partial<DigestAlert>): DigestAlert {
  return {
    id: "x",
    status: "firing",
    detected_at: "2025-03-01T10:20:10.000Z",
    event_time: "2025-03-01T10:20:09.000Z",
    type: "metrics",
    rule: "cpu_high",
    severity: "CRITICAL",
    entity: "api",
    title: "CPU",
    message: "cpu <high>",
    score: null,
    details: { value: 97.25, threshold: 90 },
    evidence: [],
    resolved_at: null,
    trace_id: null,
    stages: {},
    isNew: true,
    flapping: false,
    resolvedAfterMs: null,
    ...over,
  };
}

const digest: Digest = {
  id: "g-abc-1",
  kind: "digest",
  route: "default",
  groupKey: "default|type=metrics",
  groupLabels: { type: "metrics" },
  createdAt: Date.parse("2025-03-01T10:22:00Z"),
  channels: ["email"],
  alerts: [
    a({ id: "1" }),
    a({ id: "2", detected_at: "2025-03-01T10:21:50.000Z" }),
    a({ id: "3", severity: "WARNING" }),
    a({
      id: "4",
      status: "resolved",
      resolved_at: "2025-03-01T10:21:00.000Z",
      resolvedAfterMs: 12 * 60_000,
      isNew: false,
    }),
  ],
  flapping: [{ type: "metrics", rule: "cpu_high", entity: "api", changes: 6 }],
  streamIds: [],
};

Deno.test("digestSubject() names severity counts and the UTC window", () => {
  assert.equal(
    digestSubject(digest),
    "[Vigil] 2 CRITICAL, 1 WARNING, 1 resolved — 10:20–10:21 UTC",
  );
  assert.match(digestSubject({ ...digest, kind: "repeat" }), /\(still firing\)$/);
});

Deno.test("digestText() and digestHtml() list the same alerts with state, value and link", () => {
  const opts = { webBaseUrl: "http://web:8080/" };
  const text = digestText(digest, opts);
  const html = digestHtml(digest, opts);
  for (const id of ["1", "2", "3", "4"]) {
    assert.ok(text.includes(`http://web:8080/alerts/${id}`));
    assert.ok(html.includes(`href="http://web:8080/alerts/${id}"`));
  }
  assert.match(text, /resolved after 12 min/);
  assert.match(text, /resolved at 10:21:00 UTC \(fired at 97\.25 vs 90\)/);
  assert.match(html, /resolved at 10:21:00 UTC \(fired at 97\.25 vs 90\)/);
  assert.match(html, /resolved after 12 min/);
  assert.match(text, /97\.25 vs 90/);
  assert.match(text, /flapping: 6 alerts within the flap window/);
  assert.match(html, /cpu &lt;high&gt;/);
  assert.doesNotMatch(html, /cpu <high>/);
  assert.match(html, /CRITICAL \(2\)[\s\S]*WARNING \(1\)[\s\S]*Resolved \(1\)/);
});

// A log line is untrusted: the keyword rule's alert message is the log message.
const FORGED = "payment failed\n- 2025-03-01 10:20:00 UTC  [CRITICAL] fake on api (metrics) — new" +
  "\r\n  http://evil.example/alerts/1\u2028x\u0085y\u000bz\tend \u202eevil\u0000";

Deno.test("oneLine() puts every line break on the line and replaces controls", () => {
  assert.equal(
    oneLine(FORGED),
    "payment failed ↵ - 2025-03-01 10:20:00 UTC  [CRITICAL] fake on api (metrics) — new ↵ " +
      "  http://evil.example/alerts/1 ↵ x ↵ y ↵ z end \uFFFDevil\uFFFD",
  );
  assert.equal(oneLine("plain text, ünïcode ✓ 😀"), "plain text, ünïcode ✓ 😀");
});

Deno.test("oneLine() replaces the bidirectional marks, which reorder the digits of a log line", () => {
  // Shown as is, "amount 12\u200f34\u200f56 EUR" reads "amount 125634 EUR" in a mail client,
  // Slack or Discord (the marks U+200E, U+200F, U+061C are bidirectional controls, docs/ingest.md).
  assert.equal(
    oneLine("amount 12\u200f34\u200f56 EUR to 99\u061c88\u061c77 \u200e"),
    "amount 12\uFFFD34\uFFFD56 EUR to 99\uFFFD88\uFFFD77 \uFFFD",
  );
  const marked: Digest = {
    ...digest,
    alerts: [a({ id: "9", message: "refund failed: amount 12\u200f34\u200f56 EUR" })],
    flapping: [],
  };
  const html = digestHtml(marked, { webBaseUrl: "http://web" });
  const text = digestText(marked, { webBaseUrl: "http://web" });
  for (const body of [html, text]) {
    assert.ok(!/[\u061c\u200e\u200f]/.test(body), body);
    assert.ok(body.includes("12\uFFFD34\uFFFD56"), body);
  }
});

Deno.test("a log message or entity cannot add lines to the text digest", () => {
  const forged: Digest = {
    ...digest,
    groupLabels: { entity: "api\u2028- fake" },
    alerts: [a({ id: "9", entity: "api\u2028[CRITICAL]", message: FORGED })],
    flapping: [],
  };
  const text = digestText(forged, { webBaseUrl: "http://web" });
  const lines = text.split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/);
  // subject, group, blank, section, alert, message, link, blank, digest id
  assert.equal(lines.length, 9, text);
  assert.equal(lines.filter((l) => l.startsWith("- ")).length, 1);
  // The log line's link stays inside its line; the only line that is a link is Vigil's.
  assert.deepEqual(lines.filter((l) => /^\s*https?:/.test(l)), ["  http://web/alerts/9"]);
  assert.ok(lines[5]!.startsWith("  payment failed ↵ - 2025"), lines[5]);
  const html = digestHtml(forged, { webBaseUrl: "http://web" });
  for (const c of ["\u2028", "\u202e", "\u0000"]) assert.ok(!html.includes(c), c);
});

Deno.test("digestSubject() gives the window in event time (a replay of old data, detected today)", () => {
  const old = {
    ...digest,
    alerts: [
      a({ id: "1", event_time: "2015-06-01T08:00:00.000Z" }),
      a({
        id: "2",
        event_time: "2015-06-01T08:00:00.000Z",
        status: "resolved",
        resolved_at: "2015-06-01T08:40:00.000Z",
      }),
    ],
  };
  // A replay or a backlog: the window's day is not the digest's, so the subject says which.
  assert.equal(
    digestSubject(old),
    "[Vigil] 1 CRITICAL, 1 resolved — 2015-06-01 08:00–08:40 UTC",
  );
  assert.match(digestText(old, { webBaseUrl: "http://web" }), /2015-06-01 08:00:00/);
  // One minute of yesterday, and a window spanning two days (each dated, as before).
  const yesterday = { ...digest, alerts: [a({ id: "1", event_time: "2025-02-28T23:59:10Z" })] };
  assert.equal(digestSubject(yesterday), "[Vigil] 1 CRITICAL — 2025-02-28 23:59 UTC");
  const span = {
    ...digest,
    alerts: [
      a({ id: "1", event_time: "2025-02-28T23:50:00Z" }),
      a({ id: "2", event_time: "2025-03-01T00:10:00Z" }),
    ],
  };
  assert.equal(
    digestSubject(span),
    "[Vigil] 2 CRITICAL — 2025-02-28 23:50–2025-03-01 00:10 UTC",
  );
  // Today's window keeps its short form.
  assert.equal(
    digestSubject(digest),
    "[Vigil] 2 CRITICAL, 1 WARNING, 1 resolved — 10:20–10:21 UTC",
  );
});

Deno.test("an email digest of an alert storm lists DIGEST_MAX_ROWS rows and links to the rest", () => {
  // 20,000 alerts rendered 3.8 MB of text and 18.4 MB of HTML: over a default Postfix's 10 MB.
  const storm: Digest = {
    ...digest,
    groupLabels: {},
    flapping: [],
    alerts: Array.from({ length: 20_000 }, (_, i) =>
      a({
        id: `s${i}`,
        severity: i < 400 ? "CRITICAL" : "WARNING",
        status: i >= 19_990 ? "resolved" : "firing",
        resolved_at: i >= 19_990 ? "2025-03-01T10:21:00.000Z" : null,
        message: i === 0 ? "x".repeat(5000) : `cpu ${i}`,
      })),
  };
  const options = { webBaseUrl: "https://vigil.example/" };
  const text = digestText(storm, options);
  const html = digestHtml(storm, options);
  assert.ok(text.length + html.length < 1_000_000, `${text.length + html.length} characters`);
  assert.equal(text.match(/\/alerts\/s\d+/g)?.length, DIGEST_MAX_ROWS);
  assert.match(digestSubject(storm), /^\[Vigil\] 400 CRITICAL, 19590 WARNING, 10 resolved/);
  // The sections in order: all 400 CRITICAL, then 100 WARNING, then none of the resolved.
  assert.match(text, /== CRITICAL \(400\) ==\n/);
  assert.doesNotMatch(text, /more CRITICAL/);
  assert.match(
    text,
    /… and 19490 more WARNING alerts not listed here \(a digest lists 500 at most\)\n {2}https:\/\/vigil\.example\/\?severity=WARNING&resolved=false\n/,
  );
  assert.match(
    text,
    /== Resolved \(10\) ==\n… and 10 more resolved alerts not listed here \(a digest lists 500 at most\)\n {2}https:\/\/vigil\.example\/\?resolved=true\n/,
  );
  assert.match(
    html,
    /and 19490 more WARNING alerts[^<]*: <a href="https:\/\/vigil\.example\/\?severity=WARNING&amp;resolved=false">view them<\/a>/,
  );
  // A 5,000-character log line shows its first EMAIL_MAX_MESSAGE characters.
  assert.ok(text.includes(`  ${"x".repeat(EMAIL_MAX_MESSAGE)}…`));
  assert.ok(!text.includes("x".repeat(EMAIL_MAX_MESSAGE + 1)));
  // A group by type links to the list of its type.
  const typed = digestText({ ...storm, groupLabels: { type: "metrics" } }, options);
  assert.match(typed, /\?type=metrics&severity=WARNING&resolved=false/);
});

Deno.test("digestHtml() writes every text at WCAG AA contrast, with a language and named columns", () => {
  const html = digestHtml(digest, { webBaseUrl: "http://web" });
  // Text colours (not borders) on the white body: axe-core found the WARNING heading at
  // 2.8:1 and the grey type and footer at 3.5:1.
  const colours = [...html.matchAll(/(?<![\w-])color:(#[0-9a-f]{3,6})/gi)].map((m) => m[1]!);
  assert.ok(colours.length >= 4, html);
  for (const c of new Set(colours)) {
    const hex = c.length === 4 ? `#${[...c.slice(1)].map((d) => d + d).join("")}` : c;
    assert.ok(contrastRatio(hex, "#ffffff") >= 4.5, `${c}: ${contrastRatio(hex, "#ffffff")}`);
  }
  assert.match(html, /^<!DOCTYPE html><html lang="en">/);
  assert.doesNotMatch(html, /<th[^>]*><\/th>/, "no empty column header");
});

Deno.test("the flapping note names the FLAP_WINDOW it was counted in, in every channel", () => {
  const opts = { webBaseUrl: "http://web" };
  const flap = digest.flapping[0]!;
  const texts = (d: Digest) => [
    digestText(d, opts),
    digestHtml(d, opts),
    JSON.stringify(discordMessages(d, opts)),
    JSON.stringify(slackMessages(d, opts)),
  ];
  for (
    const [windowMs, said] of [[15 * 60_000, "within 15 min"], [6 * 3_600_000, "within 6 h"], [
      3_600_000,
      "within 1 h",
    ]] as const
  ) {
    for (const t of texts({ ...digest, flapping: [{ ...flap, windowMs }] })) {
      assert.ok(t.includes(`6 alerts ${said}`), `${said}: ${t.slice(0, 400)}`);
      assert.ok(!t.includes("within the hour"), t.slice(0, 400));
    }
  }
  // A digest stored before the window was recorded: readable, no window made up.
  for (const t of texts({ ...digest, flapping: [{ ...flap }] })) {
    assert.ok(t.includes("6 alerts within the flap window"), t.slice(0, 400));
  }
  const hook = (d: Digest) => webhookPayload(d, opts)["flapping"];
  assert.deepEqual(hook({ ...digest, flapping: [{ ...flap, windowMs: 900_000 }] }), [
    { ...flap, window_ms: 900_000 },
  ]);
  assert.deepEqual(hook(digest), [{ ...flap, window_ms: null }]);
});

Deno.test("a lasting storm names DIGEST_MAX_FLAPPING flapping entities at most, in every channel", () => {
  // A sustained condition alerts once per cooldown (5 min): 25 minutes into a storm every entity
  // of it is flapping. 4,000 flapping users made 92 Slack messages and 1.7 MB of email.
  const n = 4000;
  const storm: Digest = {
    ...digest,
    groupLabels: {},
    alerts: Array.from(
      { length: n },
      (_, i) => a({ id: `f${i}`, entity: `user-${i}`, flapping: true, isNew: false }),
    ),
    flapping: Array.from({ length: n }, (_, i) => ({
      type: "transactions",
      rule: "user_frequency",
      entity: `user-${i}`,
      changes: 6,
      windowMs: 3_600_000,
    })),
  };
  const options = { webBaseUrl: "https://vigil.example" };
  const text = digestText(storm, options);
  const html = digestHtml(storm, options);
  const more = `and ${n - DIGEST_MAX_FLAPPING} more rule/entity pairs are flapping`;
  assert.equal(text.split("\n").filter((l) => l.startsWith("! ")).length, DIGEST_MAX_FLAPPING + 1);
  for (const t of [text, html, JSON.stringify(slackMessages(storm, options))]) {
    assert.match(t, /user_frequency on user-0(?!\d)/);
    assert.doesNotMatch(t, new RegExp(`user_frequency on user-${DIGEST_MAX_FLAPPING}(?!\\d)`));
    assert.ok(t.includes(more), t.slice(0, 2000));
  }
  const quiet = { ...storm, flapping: [] };
  const added = text.length + html.length - digestText(quiet, options).length -
    digestHtml(quiet, options).length;
  assert.ok(added < 10_000, `the flapping notes add ${added} characters`);
  // 500 rows and the flapping notes: 11 messages, as the rows alone.
  assert.equal(slackMessages(storm, options).length, 11);
  // Discord cuts the names to its 4,096 characters, not how many more there are.
  const long = storm.flapping.map((f) => ({ ...f, entity: `${"_".repeat(250)}${f.entity}` }));
  for (const d of [storm, { ...storm, flapping: long }]) {
    const description = discordMessages(d, options)[0]!.embeds[0]!.description!;
    assert.ok(description.length <= 4096, `${description.length}`);
    assert.ok(description.endsWith(`… ${more} (a digest names 20 at most)`), description);
  }
});

/** Every string inside `v`. */
function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (v !== null && typeof v === "object") return Object.values(v).flatMap(strings);
  return [];
}

Deno.test("a cut text never splits a character in two (no lone surrogate reaches a channel)", () => {
  assert.equal(clip("a😀b", 3), "a…");
  assert.equal(clip("ab😀", 3), "ab…");
  assert.equal(clip("😀😀😀", 4), "😀…");
  // An emoji log line and entity, cut by each channel's own limit at every alignment.
  for (let pad = 0; pad < 4; pad++) {
    const emoji: Digest = {
      ...digest,
      flapping: [],
      alerts: [a({
        id: "e",
        entity: "u".repeat(pad) + "😀".repeat(300),
        message: "#".repeat(pad) + "#😀".repeat(3000),
      })],
    };
    const options = { webBaseUrl: "http://web" };
    const all = [
      ...strings(discordMessages(emoji, options)),
      ...strings(slackMessages(emoji, options)),
      digestText(emoji, options),
      digestHtml(emoji, options),
    ];
    for (const s of all) assert.ok(s.isWellFormed(), `pad ${pad}: ${JSON.stringify(s.slice(-40))}`);
  }
});
