import assert from "node:assert/strict";
import { parseArchiveConfig } from "./config.ts";

Deno.test("ARCHIVE_PREFIX may not climb out of the archive folder", () => {
  for (const prefix of ["..", "../etc", "raw/../../x", "./raw"]) {
    assert.throws(
      () => parseArchiveConfig({ ARCHIVE_PREFIX: prefix }),
      /^ConfigError: Cannot start archive: ARCHIVE_PREFIX must not have a \. or \.\. part/,
      prefix,
    );
  }
  for (const prefix of ["raw", "a/b", "/a/b/", "v1.2", ""]) {
    assert.equal(parseArchiveConfig({ ARCHIVE_PREFIX: prefix }).ARCHIVE_PREFIX, prefix || "raw");
  }
});
