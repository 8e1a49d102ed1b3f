// Visitors' online state on console pages: the dot in inbox rows and the
// label in a conversation's header (docs/protocol.md, presence:visitors).
import { socket } from "./socket.js";

/** Show one element (and its label, if it has one) as online or offline. */
export function showVisitorPresence(element, online) {
  const label = online ? "Online now" : "Offline";
  element.dataset.online = String(online);
  element.title = label;
  const text = element.querySelector("[data-presence-label]");
  if (text) text.textContent = label;
}

function showAll(ids, online) {
  if (!Array.isArray(ids)) return;
  for (const id of ids) {
    if (!Number.isInteger(id)) continue;
    for (const element of document.querySelectorAll(`[data-visitor-presence="${id}"]`)) {
      showVisitorPresence(element, online);
    }
  }
}

/** Keep every visitor's online state on this page as presence events say. */
export function startVisitorPresence() {
  socket.on("presence:visitors", (event) => {
    showAll(event?.offline, false);
    showAll(event?.online, true);
  });
}
