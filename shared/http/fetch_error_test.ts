import assert from "node:assert/strict";
import { fetchErrorText } from "./fetch_error.ts";

Deno.test("fetchErrorText() adds fetch's cause, without its URL", () => {
  const cause = new Error(
    "error sending request for url (https://hooks.example/T0/s3cret): client error (Connect): dns error: failed to lookup address information: Name or service not known",
  );
  assert.equal(
    fetchErrorText(new TypeError("fetch failed", { cause })),
    "fetch failed: error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known",
  );
});

Deno.test("fetchErrorText() is the message alone without a cause that says more", () => {
  assert.equal(fetchErrorText(new Error("boom")), "boom");
  assert.equal(fetchErrorText(new Error("boom", { cause: new Error("boom") })), "boom");
  assert.equal(fetchErrorText(new Error("boom", { cause: "text" })), "boom");
  assert.equal(fetchErrorText("not an error"), "not an error");
});
