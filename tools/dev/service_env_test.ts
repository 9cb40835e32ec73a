/**
 * `deno task dev` points each service at the ports the others run on, so a second stack on
 * moved ports (docs/operations.md, "A second stack on one machine") is whole by itself.
 */
import assert from "node:assert/strict";
import { portsToCheck, serviceEnv } from "./service_env.ts";

const from = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("the web finds the notifier and the detector at their ports", () => {
  const env = serviceEnv(from({ NOTIFIER_PORT: "39104", DETECTOR_PORT: "39103" }));
  assert.equal(env.web!.NOTIFIER_URL, "http://127.0.0.1:39104");
  assert.equal(env.web!.DETECTOR_URL, "http://127.0.0.1:39103");
});

Deno.test("digests link to this stack's page: WEB_BASE_URL follows WEB_PORT", () => {
  // On WEB_PORT=38080 the digests linked to http://localhost:8080, the other stack's page.
  assert.equal(
    serviceEnv(from({ WEB_PORT: "38080" })).notifier!.WEB_BASE_URL,
    "http://localhost:38080",
  );
  assert.equal(serviceEnv(from({})).notifier!.WEB_BASE_URL, "http://localhost:8080");
  // One set by the user wins (a public address, a proxy in front of the page).
  assert.equal(
    serviceEnv(from({ WEB_PORT: "38080", WEB_BASE_URL: "https://vigil.example.com" }))
      .notifier!.WEB_BASE_URL,
    undefined,
  );
});

Deno.test("the ports checked before start: every service's, the producer's only when PRODUCER_PORT is set", () => {
  const checked = (vars: Record<string, string>) =>
    portsToCheck(from(vars)).map(([name, variable, port]) => `${name} ${variable} ${port}`);
  assert.deepEqual(checked({}), [
    "bridge BRIDGE_PORT 9102",
    "detector DETECTOR_PORT 9103",
    "notifier NOTIFIER_PORT 9104",
    "archive ARCHIVE_PORT 9107",
    "web WEB_PORT 8080",
  ]);
  // Unset, a busy 9101 is no reason to refuse: the producer takes a free port. Set, it keeps that
  // port and exits when it is busy: the second stack started, and its producer exited with
  // "127.0.0.1:19101 is already in use" and was started again for good (1 s, 2 s, … 30 s apart).
  assert.equal(checked({ PRODUCER_PORT: "19101" }).at(-1), "producer PRODUCER_PORT 19101");
});
