/**
 * Slack incoming webhook: Block Kit sections per severity, one section per
 * alert, split into several messages above Slack's 50 blocks per message
 * (and 3,000 characters per text); `DIGEST_MAX_ROWS` alerts at most, then a
 * line saying how many more with a link to them (flapping pairs: `DIGEST_MAX_FLAPPING`). Slack's 429 carries
 * `Retry-After`.
 *
 * @module
 */
import type { Digest, DigestAlert } from "../digest.ts";
import * as render from "../render.ts";
import { valueVsThreshold } from "../figures.ts";
import type { Channel } from "./channel.ts";
import { jsonPartsChannel } from "./_http.ts";

/** Slack's limits (with headroom). */
export const SLACK_LIMITS = { blocksPerMessage: 50, sectionText: 3000 } as const;

const EMOJI = {
  CRITICAL: ":red_circle:",
  WARNING: ":large_orange_circle:",
  INFO: ":large_blue_circle:",
  RESOLVED: ":white_check_mark:",
} as const;

/** Text for Slack mrkdwn: on one line, with `&`, `<` and `>` escaped (no link or mention tags). */
function mrkdwnEscape(s: string): string {
  return render.oneLine(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function alertBlock(a: DigestAlert, options: render.RenderOptions): Record<string, unknown> {
  const vt = valueVsThreshold(a);
  // Event time, like every channel (detected_at is the detector's clock).
  const at = render.alertTime(a);
  const text = `*${mrkdwnEscape(a.rule)}* on *${mrkdwnEscape(a.entity)}* (${a.type}) — ${
    render.alertState(a)
  }\n${mrkdwnEscape(a.message)}${vt ? ` (${mrkdwnEscape(vt)})` : ""}`;
  // The row ends with its link and time: a long log line is cut before them (cut from the end,
  // the row lost its "view" link), and not inside an escape (`&l…`).
  const tail = `\n<${render.alertLink(a, options)}|view> · ${
    at > 0 ? `${render.rowTime(a)} UTC` : a.event_time
  }`;
  const cut = render.clip(text, SLACK_LIMITS.sectionText - tail.length).replace(
    /&[a-z]{0,3}…$/,
    "…",
  );
  return section(cut + tail);
}

const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
const context = (text: string) => ({ type: "context", elements: [{ type: "mrkdwn", text }] });

/** Render a digest into Slack messages within the limits. Pure. */
export function slackMessages(
  digest: Digest,
  options: render.RenderOptions,
): { text: string; blocks: Record<string, unknown>[] }[] {
  const max = SLACK_LIMITS.blocksPerMessage - 1;
  const blocks: Record<string, unknown>[] = [];
  const flapping = render.listedFlapping(digest);
  for (const f of flapping.flapping) {
    const text = `:warning: ${f.rule} on ${mrkdwnEscape(f.entity)} is flapping (${
      render.flapCount(f)
    }): digest-only`;
    blocks.push(context(render.clip(text, 3000)));
  }
  if (flapping.hidden > 0) {
    blocks.push(context(`:warning: … ${render.hiddenFlappingNote(flapping.hidden)}`));
  }
  for (const s of render.listedSections(digest)) {
    blocks.push(section(`${EMOJI[s.severity]} *${s.title}*`));
    for (const a of s.alerts) blocks.push(alertBlock(a, options));
    if (s.hidden > 0) {
      const link = mrkdwnEscape(render.hiddenLink(digest, s, options));
      blocks.push(context(`… ${render.hiddenNote(s)}: <${link}|view them>`));
    }
  }
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < blocks.length; i += max) chunks.push(blocks.slice(i, i + max));
  if (chunks.length === 0) chunks.push([]);
  const subject = render.digestSubject(digest);
  return chunks.map((chunk, i) => {
    const title = chunks.length > 1 ? `${subject} (part ${i + 1}/${chunks.length})` : subject;
    return {
      text: title,
      blocks: [
        { type: "header", text: { type: "plain_text", text: render.clip(title, 150) } },
        ...chunk,
      ],
    };
  });
}

/** Create the Slack channel. */
export function createSlackChannel(options: render.RenderOptions & { url: string }): Channel {
  return jsonPartsChannel("slack", options.url, fetch, (d) => slackMessages(d, options));
}
