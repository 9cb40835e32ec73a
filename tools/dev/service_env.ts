/**
 * What `deno task dev` (tools/dev/dev_main.ts) tells each service about the others, from the
 * ports the runner starts them on: where the web finds the notifier and the detector, and the
 * page the notifier's digests link to.
 *
 * @module
 */

/** The HTTP port of each service the runner must find free (variable, its default). */
export const PORTS = {
  bridge: ["BRIDGE_PORT", 9102],
  detector: ["DETECTOR_PORT", 9103],
  notifier: ["NOTIFIER_PORT", 9104],
  archive: ["ARCHIVE_PORT", 9107],
  web: ["WEB_PORT", 8080],
} as const;

/** Reads one environment variable (`Deno.env.get`, or a map in tests). */
export type GetEnv = (name: string) => string | undefined;

/** A service's port: its variable when set (and a number), else the default. */
export function servicePort(get: GetEnv, service: keyof typeof PORTS): number {
  const [name, fallback] = PORTS[service];
  return Number(get(name) || fallback) || fallback;
}

/**
 * The ports the runner must find free before it starts anything, as `[service, variable, port]`:
 * every service's of {@link PORTS}, and the producer's when `PRODUCER_PORT` is set (unset, a busy
 * 9101 makes the producer take a free port; set, it keeps that port and exits when it is busy).
 */
export function portsToCheck(get: GetEnv): [string, string, number][] {
  const ports = (Object.keys(PORTS) as (keyof typeof PORTS)[]).map((
    name,
  ): [string, string, number] => [name, PORTS[name][0], servicePort(get, name)]);
  const producer = Number(get("PRODUCER_PORT"));
  return producer ? [...ports, ["producer", "PRODUCER_PORT", producer]] : ports;
}

/** Extra environment per service, for what the user's environment does not already set. */
export function serviceEnv(get: GetEnv): Record<string, Record<string, string>> {
  const port = (service: keyof typeof PORTS) => servicePort(get, service);
  const env: Record<string, Record<string, string>> = {
    web: {},
    notifier: {},
    detector: {},
    producer: {},
  };
  if (!get("NOTIFIER_URL")) env.web!.NOTIFIER_URL = `http://127.0.0.1:${port("notifier")}`;
  if (!get("DETECTOR_URL")) env.web!.DETECTOR_URL = `http://127.0.0.1:${port("detector")}`;
  // The links in digests: to this stack's page, not to one on the default port.
  if (!get("WEB_BASE_URL")) env.notifier!.WEB_BASE_URL = `http://localhost:${port("web")}`;
  return env;
}
