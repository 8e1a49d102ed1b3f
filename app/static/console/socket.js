// The console's one connection to the /agent namespace (docs/protocol.md).
import { io } from "../vendor/socket.io-4.8.4.esm.min.js";

const ACK_TIMEOUT_MS = 15000;

// The protocol's backoff: 0.5 s doubling to 30 s, with ±50% jitter.
export const socket = io("/agent", {
  transports: ["websocket", "polling"],
  reconnectionDelay: 500,
  reconnectionDelayMax: 30000,
  randomizationFactor: 0.5,
  autoConnect: false,
});

/** Emit `event` and resolve with its ack (an error ack on a timeout). */
export function call(event, payload) {
  return new Promise((resolve) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, ack) => {
      if (err) {
        resolve({ ok: false, error: { code: "timeout", message: "The server did not answer. Check your connection." } });
      } else {
        resolve(ack);
      }
    });
  });
}

/** Show the connection's state in the side bar. */
export function showConnection(element) {
  if (!element) return;
  const say = (text, state) => {
    element.textContent = text;
    element.dataset.state = state;
  };
  socket.on("connect", () => say("Live", "live"));
  socket.on("disconnect", () => say("Reconnecting…", "down"));
  socket.on("connect_error", (err) => {
    if (err?.data?.code === "unauthorized") {
      say("Signed out. Reload to sign in again.", "down");
    } else {
      say("Reconnecting…", "down");
    }
  });
}
