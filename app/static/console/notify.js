// Browser notifications and a short sound for what needs this agent.
import { socket } from "./socket.js";

const me = Number(document.querySelector("[data-user-id]")?.dataset.userId);
const assignees = new Map();
// Conversations this tab asked for itself: no need to announce those.
const requested = new Set();
let audio = null;

/** Note that this tab is taking or assigning `conversationId` itself. */
export function expectAssignment(conversationId) {
  requested.add(conversationId);
}

function remember() {
  for (const row of document.querySelectorAll("tr[data-conversation]")) {
    assignees.set(Number(row.dataset.conversation), Number(row.dataset.assignee) || null);
  }
}

function beep() {
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.3);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.3);
  } catch {
    // No audio device, or the page has not been clicked yet: stay silent.
  }
}

/** Tell the agent about a conversation, by notification and sound. */
export function alertAgent(title, body, conversationId) {
  beep();
  const banner = document.querySelector("[data-alert]");
  if (banner) {
    const link = document.createElement("a");
    link.href = `/console/conversations/${conversationId}`;
    link.textContent = title;
    banner.replaceChildren(link, body ? ` · ${body}` : "");
    banner.hidden = false;
  }
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const note = new Notification(title, { body, tag: `parley-${conversationId}` });
  note.onclick = () => {
    window.focus();
    window.location.href = `/console/conversations/${conversationId}`;
  };
}

function onConversation(summary) {
  if (summary.assignee !== undefined) {
    const now = summary.assignee?.id ?? null;
    const before = assignees.get(summary.id);
    assignees.set(summary.id, now);
    if (now === me && before !== me && !requested.delete(summary.id)) {
      alertAgent("Conversation assigned to you", "Open it to reply.", summary.id);
    }
  }
  const last = summary.last_message;
  if (last?.author?.kind === "visitor" && assignees.get(summary.id) === me) {
    const openHere = document.querySelector(`[data-conversation-page="${summary.id}"]`);
    if (!openHere || document.hidden) {
      alertAgent("New message", last.body.slice(0, 120), summary.id);
    }
  }
}

function offerPermission() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  // Browsers ask only after a click on the page; the first one will do.
  document.addEventListener("click", () => Notification.requestPermission(), { once: true });
}

export function startNotifications() {
  remember();
  document.addEventListener("parley:rows", remember);
  const page = document.querySelector("[data-conversation-page]");
  if (page) {
    assignees.set(Number(page.dataset.conversationPage), Number(page.dataset.assigneeId) || null);
  }
  socket.on("conversation", onConversation);
  offerPermission();
}
