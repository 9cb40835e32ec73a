/**
 * The development API token of `deno task dev`: created once in
 * `.vigil/api_token` (32 random bytes, base64url, file mode 0600), reused on
 * later runs, passed to the web service as `VIGIL_API_TOKEN`, so Acknowledge
 * and Silence work in a default `bash tools/vigil.sh up`. Production is
 * unchanged: the web without a token refuses mutations (503).
 *
 * @module
 */
import { BEARER_TOKEN_PATTERN } from "@vigil/shared/http/bearer";

/** Where the dev runner keeps the token. */
export const DEV_TOKEN_FILE = ".vigil/api_token";

/** Options of {@link ensureDevToken}. */
export interface DevTokenOptions {
  /** @default {DEV_TOKEN_FILE} */
  path?: string;
  /** Token generator. @default 32 random bytes, base64url */
  generate?: () => string;
}

/** The token and where it came from. */
export interface DevToken {
  token: string;
  path: string;
  /** Made by this call (false: read from the file). */
  created: boolean;
  /** The file was readable by others and has been restricted to 0600. */
  restricted: boolean;
}

/** 32 random bytes as base64url (43 characters, a valid bearer token). */
export function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function check(token: string, path: string): string {
  if (token.length < 16 || !BEARER_TOKEN_PATTERN.test(token)) {
    throw new Error(
      `Cannot use the API token in ${path}: it must be 16+ characters of A-Z a-z 0-9 - . _ ~ + / ` +
        `(delete the file to have a new one made)`,
    );
  }
  return token;
}

async function readExisting(path: string): Promise<DevToken> {
  const token = check((await Deno.readTextFile(path)).trim(), path);
  let restricted = false;
  const { mode } = await Deno.stat(path);
  if (mode !== null && (mode & 0o077) !== 0) {
    await Deno.chmod(path, 0o600);
    restricted = true;
  }
  return { token, path, created: false, restricted };
}

/**
 * The dev token: read from `path`, or created there once (atomically: a
 * temporary file linked into place, so two runners never make two tokens
 * and a crash never leaves half a token).
 *
 * @throws {Error} "Cannot use the API token in …" when the file holds no valid token
 */
export async function ensureDevToken(options: DevTokenOptions = {}): Promise<DevToken> {
  const path = options.path ?? DEV_TOKEN_FILE;
  try {
    return await readExisting(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const token = check((options.generate ?? randomToken)(), path);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, token + "\n", { mode: 0o600, createNew: true });
  try {
    await Deno.chmod(tmp, 0o600); // whatever the umask
    await Deno.link(tmp, path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    return await readExisting(path); // another runner made it first
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  return { token, path, created: true, restricted: false };
}

/** What the dev runner prints at start: the token and how to use it. */
export function devTokenMessage(t: DevToken, options: { webPort: number }): string[] {
  const base = `http://localhost:${options.webPort}`;
  return [
    `API token for Acknowledge and Silence (${
      t.created ? "created now in" : "from"
    } ${t.path}, mode 0600${t.restricted ? ", permissions restricted now" : ""}):`,
    `  ${t.token}`,
    `  In the page (${base}): press Acknowledge or Silence…, paste it into the "API token" field ` +
    `and Save (kept in that browser).`,
    `  With curl: curl -H "Authorization: Bearer $(cat ${t.path})" -H 'content-type: application/json' ` +
    `-d '{"by": "you"}' ${base}/api/anomalies/<id>/ack`,
  ];
}
