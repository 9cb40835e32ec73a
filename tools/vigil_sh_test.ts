/**
 * tools/vigil.sh waits (bounded, with a message) while another process holds
 * an apt/dpkg lock, instead of failing at once. The lock paths are made
 * configurable (VIGIL_APT_LOCKS) so the test holds a lock on a temp file,
 * with flock(1) and, like dpkg, with an fcntl lock (python3).
 */
import assert from "node:assert/strict";

const SCRIPT = new URL("./vigil.sh", import.meta.url).pathname;
const decoder = new TextDecoder();

function has(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Hold a lock on `path` for `seconds`; resolves once it is held. */
async function holdLock(
  kind: "flock" | "fcntl",
  path: string,
  seconds: number,
): Promise<Deno.ChildProcess> {
  const child = kind === "flock"
    ? new Deno.Command("flock", {
      args: [path, "-c", `echo held; sleep ${seconds}`],
      stdout: "piped",
    }).spawn()
    : new Deno.Command("python3", {
      args: [
        "-c",
        "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\n" +
        "print('held',flush=True)\ntime.sleep(float(sys.argv[2]))",
        path,
        String(seconds),
      ],
      stdout: "piped",
    }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(decoder.decode(value), /held/);
  // Keep reading to the end: a closed pipe would kill a holder that writes again.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return child;
}

/** End the holder if it still runs (test failure paths) and reap it. */
async function release(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already ended by itself */ }
  await child.status;
}

/** Source the script and run wait_for_apt_locks with `locks` and `timeoutS`. */
async function waitForLocks(locks: string, timeoutS: number) {
  const started = performance.now();
  const out = await new Deno.Command("bash", {
    args: ["-c", `source "${SCRIPT}" && wait_for_apt_locks`],
    env: { VIGIL_APT_LOCKS: locks, VIGIL_APT_LOCK_TIMEOUT: String(timeoutS) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stderr: decoder.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

const lockTools = { flock: has("flock"), fcntl: has("python3") };

Deno.test("vigil.sh wait_for_apt_locks returns at once when no lock is held", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lock`, "");
    const r = await waitForLocks(`${dir}/lock ${dir}/missing`, 5);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.ok(r.seconds < 2, `${r.seconds}s`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const kind of ["flock", "fcntl"] as const) {
  Deno.test({
    name: `vigil.sh wait_for_apt_locks waits for a held ${kind} lock, then goes on`,
    ignore: !lockTools[kind],
    async fn() {
      const dir = await Deno.makeTempDir();
      const lock = `${dir}/lock-frontend`;
      await Deno.writeTextFile(lock, "");
      const holder = await holdLock(kind, lock, 2);
      try {
        const r = await waitForLocks(lock, 30);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.seconds >= 1.5, `returned after ${r.seconds}s, while the lock was held`);
        assert.match(
          r.stderr,
          new RegExp(
            `waiting for another package manager to finish: ${lock} is held by process ${holder.pid}`,
          ),
        );
        assert.equal(r.stderr.trim().split("\n").length, 1, "one message, not one per second");
      } finally {
        await release(holder);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "vigil.sh wait_for_apt_locks gives up after VIGIL_APT_LOCK_TIMEOUT with a message",
  ignore: !lockTools.flock,
  async fn() {
    const dir = await Deno.makeTempDir();
    const lock = `${dir}/lock`;
    await Deno.writeTextFile(lock, "");
    const holder = await holdLock("flock", lock, 6);
    try {
      const r = await waitForLocks(lock, 2);
      assert.equal(r.code, 1);
      assert.ok(r.seconds >= 1.5 && r.seconds < 10, `${r.seconds}s`);
      assert.match(r.stderr, /another package manager still holds .* after 2s: run this again/);
    } finally {
      await release(holder);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Source the script and run start_postgres for `cmd` with `env`, where PostgreSQL answers but
 * refuses user postgres (psql fails, pg_isready succeeds) and every root command is only
 * recorded: a stub `sudo` (and `id` saying "not root") writes its arguments to `sudo.log`.
 */
async function startPostgresStubbed(cmd: string, env: Record<string, string>) {
  const dir = await Deno.makeTempDir();
  try {
    const stub = async (name: string, body: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\n${body}\n`);
      await Deno.chmod(`${dir}/${name}`, 0o755);
    };
    await stub("psql", "exit 1");
    await stub("pg_isready", "exit 0");
    await stub("id", "echo 1000");
    await stub("sudo", `echo "$*" >> "${dir}/sudo.log"`);
    const out = await new Deno.Command("bash", {
      args: ["-c", `source "${SCRIPT}" && cmd=${cmd} && start_postgres`],
      env: { ...env, PATH: `${dir}:${Deno.env.get("PATH")}` },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const sudo = await Deno.readTextFile(`${dir}/sudo.log`).catch(() => "");
    return { code: out.code, stderr: decoder.decode(out.stderr), sudo };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const hasLocalPostgres = (() => {
  try {
    return Deno.statSync("/etc/postgresql").isDirectory;
  } catch {
    return false;
  }
})();

Deno.test("vigil.sh up with DATABASE_URL set leaves the local PostgreSQL and its pg_hba.conf alone", async () => {
  const url = "postgres://vigil:secret@db.example.com:5432/vigil";
  const cases: [string, Record<string, string>][] = [
    ["up", { DATABASE_URL: url }],
    ["test", { TEST_DATABASE_URL: url }],
  ];
  for (const [cmd, env] of cases) {
    const r = await startPostgresStubbed(cmd, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sudo, "", `${cmd}: no root command`);
    assert.match(r.stderr, /DATABASE_URL is set: not starting or configuring a local PostgreSQL/);
  }
});

Deno.test({
  name: "vigil.sh up without DATABASE_URL lets user postgres in over TCP (the stubs are used)",
  ignore: !hasLocalPostgres,
  async fn() {
    // `test` with only DATABASE_URL set: the tests use TEST_DATABASE_URL (the local server).
    const cases: [string, Record<string, string>][] = [
      ["up", {}],
      ["test", { DATABASE_URL: "postgres://x@y/z" }],
    ];
    for (const [cmd, env] of cases) {
      const r = await startPostgresStubbed(cmd, env);
      assert.equal(r.code, 1, "still refused after the (stubbed) change");
      assert.match(r.sudo, /sed -i 1i host all postgres 127\.0\.0\.1\/32 trust/);
    }
  },
});

/**
 * Source the script as a user who is not root (a stub `id`), with stubs for `names` from
 * `bodies` and nothing else of ours on PATH but the system's, and run `call`. Each stub
 * also records its arguments in `<name>.log`.
 */
async function runAsUser(call: string, bodies: Record<string, string>, withSudo: boolean) {
  const dir = await Deno.makeTempDir();
  try {
    const stubs: Record<string, string> = { id: "echo 1000", ...bodies };
    if (withSudo) stubs.sudo ??= `echo "$*" >> "${dir}/sudo.log"`;
    for (const [name, body] of Object.entries(stubs)) {
      await Deno.writeTextFile(
        `${dir}/${name}`,
        `#!/bin/sh\necho "$*" >> "${dir}/${name}.log"\n${body.replaceAll("$DIR", dir)}\n`,
      );
      await Deno.chmod(`${dir}/${name}`, 0o755);
    }
    // Only the stubs and the basic system tools: no real sudo, redis-server or deno.
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    for (const tool of ["sh", "bash", "cat", "grep", "seq", "sleep", "rm", "mktemp", "tee"]) {
      for (const d of ["/usr/bin", "/bin"]) {
        try {
          await Deno.symlink(`${d}/${tool}`, `${bin}/${tool}`);
          Deno.statSync(`${bin}/${tool}`);
          break;
        } catch {
          await Deno.remove(`${bin}/${tool}`).catch(() => {});
        }
      }
    }
    const out = await new Deno.Command(`${bin}/bash`, {
      args: ["-c", `source "${SCRIPT}" && ${call}`],
      env: { PATH: `${dir}:${bin}`, HOME: dir },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = (name: string) => Deno.readTextFile(`${dir}/${name}.log`).catch(() => "");
    return {
      code: out.code,
      stderr: decoder.decode(out.stderr),
      sudo: await log("sudo"),
      redisServer: await log("redis-server"),
      deno: await log("deno"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vigil.sh as a user without sudo names the command to run as root instead of 'sudo: command not found'", async () => {
  const r = await runAsUser("as_root apt-get install -y redis-server", {}, false);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stderr, /command not found/);
  assert.match(
    r.stderr,
    /needs root and sudo is not installed: run `apt-get install -y redis-server` as root, then this again/,
  );
});

Deno.test("vigil.sh starts Redis as the user, without sudo (port 6379 needs no root)", async () => {
  for (const withSudo of [false, true]) {
    const r = await runAsUser("start_redis", {
      // Not answering until redis-server has run.
      "redis-cli": `[ -e "$DIR/started" ]`,
      "redis-server": `: > "$DIR/started"`,
    }, withSudo);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sudo, "", "no sudo");
    assert.match(r.redisServer, /--daemonize yes --bind 127\.0\.0\.1 --port 6379/);
  }
});

Deno.test("vigil.sh says what to do when deno install cannot verify the registry's certificate", async () => {
  const r = await runAsUser("install_npm_packages", {
    deno:
      `echo 'error: Failed caching npm package: invalid peer certificate: UnknownIssuer' >&2; exit 1`,
  }, true);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid peer certificate: UnknownIssuer/, "deno's own error is shown");
  assert.match(r.stderr, /DENO_TLS_CA_STORE=mozilla,system/);
  // Said after one try: a second failed the same way (each retries for minutes).
  assert.equal(r.deno, "install --quiet\n");
});

Deno.test("vigil.sh tries deno install once more, its output shown, after another failure", async () => {
  const r = await runAsUser("install_npm_packages", {
    deno:
      `[ "$1 $2" = "install --quiet" ] && { echo 'error: connection reset' >&2; exit 1; }; exit 0`,
  }, true);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.deno, "install --quiet\ninstall\n");
  const failing = await runAsUser("install_npm_packages", {
    deno: `echo 'error: connection reset' >&2; exit 1`,
  }, true);
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /connection reset/, "the second try's output is shown");
  assert.doesNotMatch(failing.stderr, /DENO_TLS_CA_STORE/);
});

Deno.test("vigil.sh as a user without sudo and without deno names the npm command to run as root", async () => {
  const r = await runAsUser("install_deno", { npm: "exit 0" }, false);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /installing Deno 2\.9\.6 with npm/);
  assert.match(
    r.stderr,
    /needs root and sudo is not installed: run `npm install -g deno@2\.9\.6` as root, then this again/,
  );
});
