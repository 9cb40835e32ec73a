// The page's shared worker: one live connection (/api/live) for every tab of the page in this
// browser. Browsers open at most 6 HTTP/1.1 connections to a host; with a connection per tab,
// a seventh tab of the page never loaded. Each tab's port says "open" (with its Authorization
// header, or null), "token" when a token is saved and "close" when it goes; the worker sends
// each port the connection's "status" and every "event". The messages are part of the worker's
// name (api.js): a tab never talks to a worker of another version left running by an older tab.
import { openLive } from "./live.js";

/** @type {Set<MessagePort>} */
const ports = new Set();
let authorization = null;
let status = { state: "connecting", info: {} };
let live = null;
let idle;

const send = (msg) => {
  for (const port of ports) port.postMessage(msg);
};

function open() {
  clearTimeout(idle);
  live ??= openLive({
    headers: () => (authorization ? { authorization } : {}),
    onEvent: (name, data) => send({ type: "event", name, data }),
    onStatus: (state, info) => {
      status = { state, info };
      send({ type: "status", state, info });
    },
  });
}

/** A tab's token changed: the next attempt carries it, at once when one is waiting. */
function takeToken(value) {
  if (value === authorization) return;
  authorization = value;
  live?.wake();
}

self.addEventListener("connect", (e) => {
  const port = e.ports[0];
  port.onmessage = ({ data: m }) => {
    if (m?.type === "open") {
      ports.add(port);
      takeToken(m.authorization ?? null);
      open();
      // What the connection is now (a tab joining a live connection missed nothing).
      port.postMessage({
        type: "status",
        state: status.state,
        info: { ...status.info, reconnected: false },
      });
    } else if (m?.type === "token") {
      takeToken(m.authorization ?? null);
    } else if (m?.type === "close") {
      ports.delete(port);
      // The last tab gone (or moved to a view without live news): closed unless one comes back.
      if (!ports.size) {
        clearTimeout(idle);
        idle = setTimeout(() => {
          live?.stop();
          live = null;
          status = { state: "connecting", info: {} };
        }, 10_000);
      }
    }
  };
});
