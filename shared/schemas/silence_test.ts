import assert from "node:assert/strict";
import { silenceInputSchema } from "./silence.ts";

Deno.test("a silence's severity matcher takes any case, stored upper case like /api/anomalies?severity=", () => {
  for (const severity of ["warning", "Warning", "WARNING"]) {
    const r = silenceInputSchema.safeParse({
      matchers: { severity },
      duration: "1h",
      author: "ann",
    });
    assert.ok(r.success, `${severity}: ${r.error?.message}`);
    assert.equal(r.data.matchers.severity, "WARNING");
  }
  assert.ok(
    !silenceInputSchema.safeParse({ matchers: { severity: "loud" }, duration: "1h", author: "a" })
      .success,
  );
});

Deno.test("a silence's comment keeps lines and tabs and refuses other control characters", () => {
  const base = { matchers: { rule: "latency_high" }, duration: "1h", author: "alice" };
  const ok = silenceInputSchema.parse({ ...base, comment: "deploy\n\tsee #42\r\n" });
  assert.equal(ok.comment, "deploy\n\tsee #42\r\n");
  for (
    const [comment, at] of [["\u001b]0;x\u0007", "U+001B at position 0"], [
      "ok\u007f",
      "U+007F at position 2",
    ]]
  ) {
    const r = silenceInputSchema.safeParse({ ...base, comment });
    assert.equal(r.success, false, comment);
    assert.match(
      r.error!.issues[0]!.message,
      new RegExp(`control character ${at!.replace("+", "\\+")}`),
    );
  }
});
