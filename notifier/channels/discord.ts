/**
 * Discord webhook: embeds coloured by severity, one field per alert, split
 * into as many messages as Discord's limits need (10 embeds and 6,000
 * characters per message, 25 fields per embed). A digest lists
 * `DIGEST_MAX_ROWS` alerts at most; a section with more ends with a field
 * saying how many more and linking to them (flapping pairs: `DIGEST_MAX_FLAPPING`). An over-long single text is cut
 * with an explicit "…". 429 answers carry
 * `retry_after`, which the retry stage honours; an answer saying the webhook's bucket is empty
 * (`X-RateLimit-Remaining: 0`) holds the next post until it resets ({@link discordPacedFetch}).
 *
 * @module
 */
import type { Digest, DigestAlert } from "../digest.ts";
import * as render from "../render.ts";
import { valueVsThreshold } from "../figures.ts";
import type { Channel, FetchFn } from "./channel.ts";
import { jsonPartsChannel, MAX_RETRY_AFTER_MS } from "./_http.ts";
import { sleep } from "@vigil/shared/lifecycle";

/** Discord's documented limits. */
export const DISCORD_LIMITS = {
  embedsPerMessage: 10,
  charsPerMessage: 6000,
  fieldsPerEmbed: 25,
  title: 256,
  description: 4096,
  fieldName: 256,
  fieldValue: 1024,
  content: 2000,
} as const;

/** Embed colours by section. */
export const DISCORD_COLOURS = {
  CRITICAL: 0xe74c3c,
  WARNING: 0xf39c12,
  INFO: 0x3498db,
  RESOLVED: 0x2ecc71,
} as const;

/** A Discord embed (the subset we use). */
export interface DiscordEmbed {
  title?: string;
  description?: string;
  color?: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
}

/** One webhook message. */
export interface DiscordMessage {
  content: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: never[] };
}

/**
 * Text that came with an event, for Discord: on one line ({@link render.oneLine})
 * with Discord's markdown characters escaped, so a log line cannot format the
 * embed, mask a link (`[text](url)`) or write a mention or timestamp tag
 * (`<@…>`, `<t:…>`).
 */
export function discordText(s: string): string {
  return render.oneLine(s).replace(/[\\*_~`|<>[\]()#]/g, "\\$&").replace(/^[-+]/, "\\$&");
}

/** Characters Discord counts towards the 6,000 limit. */
export function embedChars(e: DiscordEmbed): number {
  let n = (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0);
  for (const f of e.fields ?? []) n += f.name.length + f.value.length;
  return n;
}

/** An alert this close before its digest shows its time of day alone (`<t:…:t>`). */
const BARE_TIME_WITHIN_MS = 3_600_000;

function alertField(
  a: DigestAlert,
  options: render.RenderOptions,
  createdAt: number,
): { name: string; value: string } {
  const vt = valueVsThreshold(a);
  // Event time, like every channel (detected_at is the detector's clock), in each reader's zone:
  // the time of day (`:t`) within an hour of the digest, else date and time (`:f`). Which day an
  // older time falls on depends on the reader's zone: a bare `14:03` in a "(still firing)" repeat
  // at 10:21 UTC, for an alert of 14:03 UTC the day before, read as this afternoon's.
  const at = render.alertTime(a);
  const style = createdAt - at > BARE_TIME_WITHIN_MS ? "f" : "t";
  const when = at > 0 ? `<t:${Math.floor(at / 1000)}:${style}>` : a.event_time;
  const tail = `\n${vt ? `${vt} · ` : ""}${render.alertState(a)} · ${when} · [view](${
    render.alertLink(a, options)
  })`;
  const room = DISCORD_LIMITS.fieldValue - tail.length;
  return {
    name: render.clip(`${a.rule} · ${discordText(a.entity)} (${a.type})`, DISCORD_LIMITS.fieldName),
    value: render.clip(discordText(a.message || a.title || "-"), Math.max(16, room)) + tail,
  };
}

/**
 * Render a digest into Discord messages within the limits. Pure.
 *
 * @param budget characters per message (default Discord's 6,000; tests may lower it)
 */
export function discordMessages(
  digest: Digest,
  options: render.RenderOptions & { budget?: number },
): DiscordMessage[] {
  const budget = Math.min(options.budget ?? DISCORD_LIMITS.charsPerMessage, 6000);
  const embeds: DiscordEmbed[] = [];
  if (digest.flapping.length) {
    const { flapping, hidden } = render.listedFlapping(digest);
    const lines = flapping.map((f) =>
      `${f.rule} on ${discordText(f.entity)} (${f.type}): ${render.flapCount(f)}`
    ).join("\n");
    // How many more is said even when the names are cut.
    const more = hidden > 0 ? `\n… ${render.hiddenFlappingNote(hidden)}` : "";
    const room = Math.min(DISCORD_LIMITS.description, budget - 100) - more.length;
    embeds.push({
      title: "Flapping (digest-only)",
      color: DISCORD_COLOURS.WARNING,
      description: render.clip(lines, room) + more,
    });
  }
  for (const section of render.listedSections(digest)) {
    let current: DiscordEmbed | null = null;
    const fields = section.alerts.map((a) => alertField(a, options, digest.createdAt));
    if (section.hidden > 0) {
      fields.push({
        name: "…",
        value: `${render.hiddenNote(section)}: [view them](${
          render.hiddenLink(digest, section, options)
        })`,
      });
    }
    for (const field of fields) {
      const fieldChars = field.name.length + field.value.length;
      if (
        current === null || (current.fields?.length ?? 0) >= DISCORD_LIMITS.fieldsPerEmbed ||
        embedChars(current) + fieldChars > budget - 200
      ) {
        current = {
          title: render.clip(
            current === null ? section.title : `${section.title} (continued)`,
            256,
          ),
          color: DISCORD_COLOURS[section.severity],
          fields: [],
        };
        embeds.push(current);
      }
      current.fields!.push(field);
    }
  }
  // Pack embeds into messages.
  const groups: DiscordEmbed[][] = [];
  let chars = 0;
  for (const e of embeds) {
    const last = groups[groups.length - 1];
    const n = embedChars(e);
    if (!last || last.length >= DISCORD_LIMITS.embedsPerMessage || chars + n > budget - 100) {
      groups.push([e]);
      chars = n;
    } else {
      last.push(e);
      chars += n;
    }
  }
  if (groups.length === 0) groups.push([]);
  const subject = render.digestSubject(digest);
  return groups.map((group, i) => {
    const suffix = groups.length > 1 ? ` (part ${i + 1}/${groups.length})` : "";
    const last = group[group.length - 1];
    if (last && i === groups.length - 1) last.footer = { text: `digest ${digest.id}` };
    return {
      content: render.clip(`**${subject}**${suffix}`, DISCORD_LIMITS.content),
      embeds: group,
      allowed_mentions: { parse: [] },
    };
  });
}

/** Discord's own hosts (discord.com, its ptb/canary builds, the former discordapp.com). */
const DISCORD_HOST = /^(?:(?:ptb|canary)\.)?discord(?:app)?\.com$/i;

/** The API version Vigil asks of Discord for an unversioned webhook URL. */
export const DISCORD_API_VERSION = 10;

/**
 * The URL to post to, and whether a 429's `retry_after` is in seconds. The webhook URL the
 * Discord app copies (`/api/webhooks/…`) names no API version, so it is v6, whose `retry_after`
 * (and `Retry-After`) are milliseconds: read as seconds, a wait of 300 ms held the channel for
 * 5 minutes. Such a URL of a Discord host is pinned to v{@link DISCORD_API_VERSION} (seconds).
 */
export function discordWebhookUrl(raw: string): { url: string; retryAfterSeconds: boolean } {
  const url = new URL(raw);
  if (DISCORD_HOST.test(url.hostname)) {
    url.pathname = url.pathname.replace(
      /^\/api\/webhooks\//,
      `/api/v${DISCORD_API_VERSION}/webhooks/`,
    );
  }
  url.searchParams.set("wait", "true");
  const version = Number(url.pathname.match(/^\/api\/v(\d+)\//)?.[1] ?? 0);
  return { url: url.href, retryAfterSeconds: DISCORD_HOST.test(url.hostname) && version >= 8 };
}

/** A header's number, if the answer has it. */
function headerNumber(res: Response, name: string): number | undefined {
  const h = res.headers.get(name);
  const n = h === null || h.trim() === "" ? NaN : Number(h);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * `fetchFn`, keeping to the webhook's bucket: when an answer says none remain
 * (`X-RateLimit-Remaining: 0`), the next post waits its `X-RateLimit-Reset-After` (seconds; at
 * most {@link MAX_RETRY_AFTER_MS}), never past that post's signal: an aborted wait fails the
 * post (retryable) without a request. Before, the next part of a digest was posted at once,
 * answered 429, and its attempt ended as a retry (Discord bans an IP past 10,000 invalid
 * requests in 10 minutes). An answer without these headers changes nothing.
 */
export function discordPacedFetch(fetchFn: FetchFn, now = () => performance.now()): FetchFn {
  let resetAt = 0;
  return async (input, init) => {
    const wait = resetAt - now();
    if (wait > 0) {
      await sleep(wait, init?.signal ?? undefined).catch(() => {
        throw new Error(
          `the attempt ended waiting ${Math.ceil(wait)} ms for Discord's rate limit to reset`,
        );
      });
    }
    const res = await fetchFn(input, init);
    const remaining = headerNumber(res, "x-ratelimit-remaining");
    const resetAfter = headerNumber(res, "x-ratelimit-reset-after");
    if (remaining !== undefined) {
      resetAt = remaining <= 0 && resetAfter !== undefined && resetAfter > 0
        ? now() + Math.min(resetAfter * 1000, MAX_RETRY_AFTER_MS)
        : 0;
    }
    return res;
  };
}

/** Create the Discord channel. */
export function createDiscordChannel(
  options: render.RenderOptions & { url: string; fetch?: FetchFn; budget?: number },
): Channel {
  const fetchFn = discordPacedFetch(options.fetch ?? fetch);
  const { url, retryAfterSeconds } = discordWebhookUrl(options.url);
  return jsonPartsChannel("discord", url, fetchFn, (d) => discordMessages(d, options), {
    retryAfterSeconds,
  });
}
