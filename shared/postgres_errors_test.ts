import assert from "node:assert/strict";
import { connectionSettingsProblem, isDataError, isPostgresWriteRace } from "./postgres_errors.ts";

/** A TypeError with the stack postgres.js 3.4.9 throws from its deferred write. */
function writeRace(): TypeError {
  const error = new TypeError("Cannot read properties of null (reading 'write')");
  error.stack = `TypeError: Cannot read properties of null (reading 'write')
    at Immediate.nextWrite (file:///app/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)
    at Immediate.callback (ext:deno_node/internal/timers.mjs:4:3069)`;
  return error;
}

Deno.test("isDataError() knows the SQLSTATE classes of data errors only", () => {
  assert.ok(isDataError({ code: "22P05" }));
  assert.ok(isDataError({ code: "23505" }));
  assert.ok(!isDataError({ code: "08006" }));
  assert.ok(!isDataError(null));
});

Deno.test("connectionSettingsProblem() names what to fix for refused settings only", () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(
    connectionSettingsProblem(pgError("28P01", 'password authentication failed for user "vigil"')),
    'PostgreSQL refused DATABASE_URL: password authentication failed for user "vigil": fix the user or password (or pg_hba.conf) in DATABASE_URL',
  );
  assert.match(connectionSettingsProblem(pgError("3D000", "x"))!, /fix the database name/);
  assert.match(connectionSettingsProblem(pgError("42501", "x"))!, /allowed to create tables/);
  // `?search_path=vigil` with no schema vigil: retried for ever as if PostgreSQL were not up.
  assert.match(
    connectionSettingsProblem(pgError("3F000", "no schema has been selected to create in"))!,
    /: fix search_path \(create its schema first/,
  );
  // Not up yet, or gone: waiting may cure these.
  for (const code of ["08006", "57P03", "53300", "ECONNREFUSED"]) {
    assert.equal(connectionSettingsProblem(pgError(code, "x")), undefined, code);
  }
  assert.equal(connectionSettingsProblem(null), undefined);
});

Deno.test("isPostgresWriteRace() matches the driver's deferred write to a closed socket only", () => {
  assert.ok(isPostgresWriteRace(writeRace()));
  const elsewhere = new TypeError("Cannot read properties of null (reading 'write')");
  elsewhere.stack =
    `${elsewhere.message}\n    at nextWrite (file:///app/notifier/channels.ts:10:3)`;
  assert.ok(!isPostgresWriteRace(elsewhere), "the same message from our own code");
  const other = writeRace();
  other.stack = other.stack!.replace("reading 'write'", "reading 'end'");
  assert.ok(!isPostgresWriteRace(other), "another property");
  assert.ok(
    !isPostgresWriteRace(new Error("reading 'write' nextWrite postgres/src/connection.js")),
  );
  assert.ok(!isPostgresWriteRace(undefined));
});

Deno.test("survivePostgresWriteRace(): a process survives the race from a timer, and still ends on any other uncaught error", async () => {
  const script = (fault: string) => `
    import { setImmediate } from "node:timers";
    import { survivePostgresWriteRace } from ${
    JSON.stringify(new URL("./postgres_errors.ts", import.meta.url).href)
  };
    let raced = 0;
    survivePostgresWriteRace({ warn: (msg) => { raced++; console.log(msg); } });
    setImmediate(() => { ${fault} });
    setTimeout(() => console.log("alive, races: " + raced), 100);
  `;
  const run = async (fault: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script(fault)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, text: new TextDecoder().decode(out.stdout) };
  };
  const race = await run(`
    const e = new TypeError("Cannot read properties of null (reading 'write')");
    e.stack = ${JSON.stringify(writeRace().stack)};
    throw e;`);
  assert.equal(race.code, 0, race.text);
  assert.match(race.text, /known driver bug/);
  assert.match(race.text, /alive, races: 1/);
  const other = await run(`throw new TypeError("something else")`);
  assert.notEqual(other.code, 0, "any other uncaught error still ends the process");
  assert.doesNotMatch(other.text, /alive/);
});
