import assert from "node:assert/strict";
import { digestHtml, digestText } from "./render.ts";
import { discordMessages } from "./channels/discord.ts";
import { slackMessages } from "./channels/slack.ts";
import { testDigest } from "./test_notification.ts";

const NOW = Date.parse("2025-03-01T10:20:00Z");

Deno.test("the test notification links to the live view, not to an anomaly that does not exist", () => {
  const digest = testDigest(NOW, "t-m4b2x9k1-3f2a9c01");
  const opts = { webBaseUrl: "http://localhost:8080" };
  const text = digestText(digest, opts);
  const html = digestHtml(digest, opts);
  const discord = JSON.stringify(discordMessages(digest, opts));
  const slack = JSON.stringify(slackMessages(digest, opts));
  for (const [channel, body] of Object.entries({ text, html, discord, slack })) {
    // `/alerts/t-…` opened "Cannot find anomaly" in the page: the test alert is stored nowhere.
    assert.doesNotMatch(body, /\/alerts\/t-/, channel);
  }
  assert.match(text, /^ {2}http:\/\/localhost:8080\/$/m);
  assert.match(html, /<a href="http:\/\/localhost:8080\/">view<\/a>/);
  assert.match(discord, /\[view\]\(http:\/\/localhost:8080\/\)/);
  assert.match(slack, /<http:\/\/localhost:8080\/\|view>/);
});
