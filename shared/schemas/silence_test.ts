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
