// One open conversation: live transcript, older pages on scroll, typing
// preview, read receipts, and the action forms posted with fetch.
import { expectAssignment } from "./notify.js";
import { showVisitorPresence } from "./presence.js";
import { call, socket } from "./socket.js";

const TYPING_IDLE_MS = 6000;

export class ConversationView {
  constructor(root) {
    this.root = root;
    this.id = Number(root.dataset.conversationPage);
    this.lastSeq = Number(root.dataset.lastSeq);
    this.firstSeq = Number(root.dataset.firstSeq);
    this.visitorRead = Number(root.dataset.visitorRead);
    this.hasOlder = root.dataset.older === "true";
    this.transcript = root.querySelector("[data-transcript]");
    this.typing = root.querySelector("[data-typing]");
    this.loadingOlder = false;
    this.typingTimer = null;
  }

  start() {
    socket.on("connect", () => this.join());
    socket.on("disconnect", () => delete this.root.dataset.joined);
    socket.on("message", (message) => this.onMessage(message));
    socket.on("typing", (event) => this.onTyping(event));
    socket.on("read", (event) => this.onRead(event));
    socket.on("conversation", (summary) => this.onSummary(summary));
    socket.on("resync", () => this.join());
    this.transcript.addEventListener("scroll", () => this.maybeLoadOlder());
    document.addEventListener("visibilitychange", () => this.markRead());
    for (const form of this.root.querySelectorAll("form[data-action]")) {
      form.addEventListener("submit", (event) => this.submitAction(event, form));
    }
    this.scrollToEnd();
  }

  /** Join the conversation's room, catching up on what came meanwhile. */
  async join() {
    const ack = await call("conversation:join", { conversation_id: this.id, last_seq: this.lastSeq });
    if (!ack.ok) return;
    this.root.dataset.joined = "true";
    const presence = this.root.querySelector("[data-visitor-presence]");
    const online = ack.conversation.visitor?.online;
    if (presence && typeof online === "boolean") showVisitorPresence(presence, online);
    for (const message of ack.conversation.messages) this.add(message);
    if (ack.conversation.more) this.join();
    this.markRead();
  }

  onMessage(message) {
    if (message.conversation_id !== this.id) return;
    if (message.seq <= this.lastSeq) return;
    if (message.prev_seq > this.lastSeq) {
      this.join();
      return;
    }
    this.add(message);
    if (message.author.kind === "visitor") this.showTyping(null);
    this.markRead();
  }

  /** Append a message the transcript does not hold yet. */
  add(message) {
    if (message.seq <= this.lastSeq) return;
    this.transcript.append(this.render(message));
    this.lastSeq = message.seq;
    this.scrollToEnd();
  }

  render(message) {
    const item = document.createElement("li");
    const kind = message.author.kind;
    item.className = `msg msg-${kind}`;
    item.dataset.seq = String(message.seq);
    const who = document.createElement("span");
    who.className = "who";
    if (kind === "note") who.textContent = `Note · ${message.author.name || "Agent"}`;
    else if (kind === "agent") who.textContent = message.author.name || "Agent";
    else if (kind === "visitor") who.textContent = document.querySelector(".thread-head h1")?.textContent || "Visitor";
    const body = document.createElement("span");
    body.className = "body";
    // `html` is the server's sanitized rendering, the only markup allowed.
    body.innerHTML = message.html;
    const time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    item.append(who, body, time);
    if (kind === "agent") {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      receipt.dataset.receipt = "";
      receipt.textContent = message.seq <= this.visitorRead ? "Seen" : "Sent";
      item.append(receipt);
    }
    return item;
  }

  onTyping(event) {
    if (event.conversation_id !== this.id) return;
    this.showTyping(event.typing ? event : null);
  }

  showTyping(event) {
    clearTimeout(this.typingTimer);
    if (!event) {
      this.typing.hidden = true;
      this.typing.textContent = "";
      return;
    }
    const name = event.author?.name || "The visitor";
    this.typing.textContent = event.draft ? `${name} is typing: ${event.draft}` : `${name} is typing…`;
    this.typing.hidden = false;
    // A lost "typing: false" must not leave the preview up forever.
    this.typingTimer = setTimeout(() => this.showTyping(null), TYPING_IDLE_MS);
  }

  onRead(event) {
    if (event.conversation_id !== this.id || event.by !== "visitor") return;
    this.visitorRead = Math.max(this.visitorRead, event.seq);
    for (const item of this.transcript.querySelectorAll(".msg-agent")) {
      if (Number(item.dataset.seq) <= this.visitorRead) {
        const receipt = item.querySelector("[data-receipt]");
        if (receipt) receipt.textContent = "Seen";
      }
    }
  }

  onSummary(summary) {
    if (summary.id !== this.id) return;
    const status = this.root.querySelector("[data-status]");
    if (summary.status && status && status.textContent !== summary.status) {
      status.textContent = summary.status;
      status.className = `status status-${summary.status}`;
    }
    const assignee = this.root.querySelector("[data-assignee]");
    if (summary.assignee !== undefined && assignee) {
      assignee.textContent = summary.assignee?.name || "Unassigned";
    }
  }

  markRead() {
    if (document.hidden || !socket.connected || this.lastSeq === 0) return;
    call("read", { conversation_id: this.id, seq: this.lastSeq });
  }

  async maybeLoadOlder() {
    if (!this.hasOlder || this.loadingOlder || this.transcript.scrollTop > 40) return;
    this.loadingOlder = true;
    try {
      const url = `${this.root.dataset.messagesUrl}?before=${this.firstSeq}`;
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const data = await response.json();
      const height = this.transcript.scrollHeight;
      const marker = this.transcript.querySelector("[data-older-marker]");
      const anchor = marker ? marker.nextSibling : this.transcript.firstChild;
      for (const message of data.messages) this.transcript.insertBefore(this.render(message), anchor);
      if (data.messages.length) this.firstSeq = data.messages[0].seq;
      this.hasOlder = data.more;
      if (!data.more) marker?.remove();
      this.transcript.scrollTop += this.transcript.scrollHeight - height;
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Post an action form with fetch; reload on success, say why on failure. */
  async submitAction(event, form) {
    event.preventDefault();
    if (form.dataset.action === "take") expectAssignment(this.id);
    const offset = form.querySelector("[data-tz-offset]");
    if (offset) offset.value = String(new Date().getTimezoneOffset());
    const error = this.root.querySelector("[data-action-error]");
    const response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      window.location.reload();
      return;
    }
    error.textContent = data.error?.message || "That did not work. Reload the page and try again.";
    error.hidden = false;
  }

  scrollToEnd() {
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }
}
