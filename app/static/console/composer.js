// The reply box: Enter sends, Shift+Enter adds a line, / opens canned
// replies, and a switch turns the next message into an internal note.
import { call, socket } from "./socket.js";

const TYPING_EVERY_MS = 2000;

/** The shortcut typed after a "/" at the end of the box, or null. */
function cannedPrefix(text) {
  const match = text.match(/(^|\s)\/([\w-]*)$/);
  return match ? match[2] : null;
}

export class Composer {
  constructor(form, view) {
    this.form = form;
    this.view = view;
    this.box = form.querySelector("[data-reply-box]");
    this.menu = form.querySelector("[data-canned-menu]");
    this.error = form.querySelector("[data-composer-error]");
    this.noteMode = form.querySelector("[data-mode-note]");
    this.replyMode = form.querySelector("[data-mode-reply]");
    this.outbox = [];
    this.canned = null;
    this.choice = 0;
    this.lastTyping = 0;
  }

  start() {
    this.box.addEventListener("keydown", (event) => this.onKey(event));
    this.box.addEventListener("input", () => this.onInput());
    this.box.addEventListener("blur", () => this.stopTyping());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    for (const radio of [this.noteMode, this.replyMode]) {
      radio.addEventListener("change", () => this.showMode());
    }
    socket.on("connect", () => this.flush());
  }

  /** Focus the box for a reply (`note` false) or an internal note. */
  focus(note) {
    (note ? this.noteMode : this.replyMode).checked = true;
    this.showMode();
    this.box.focus();
  }

  showMode() {
    const note = this.noteMode.checked;
    this.form.classList.toggle("note-mode", note);
    this.box.placeholder = note
      ? "Internal note… only agents see it (Enter saves)"
      : "Reply… (Enter sends, Shift+Enter adds a line, / for canned replies)";
  }

  onKey(event) {
    if (!this.menu.hidden) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.moveChoice(event.key === "ArrowDown" ? 1 : -1);
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        this.insertChoice();
        return;
      }
      if (event.key === "Escape") {
        this.menu.hidden = true;
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    }
    if (event.key === "Escape") this.box.blur();
  }

  async onInput() {
    this.error.hidden = true;
    if (cannedPrefix(this.box.value) !== null) await this.showCanned();
    else this.menu.hidden = true;
    if (!this.noteMode.checked) this.sendTyping();
  }

  sendTyping() {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    socket.emit("typing", { conversation_id: this.view.id, typing: true });
  }

  stopTyping() {
    if (this.lastTyping === 0) return;
    this.lastTyping = 0;
    socket.emit("typing", { conversation_id: this.view.id, typing: false });
  }

  async showCanned() {
    if (this.canned === null) {
      const response = await fetch("/console/canned.json", { headers: { Accept: "application/json" } });
      this.canned = response.ok ? (await response.json()).replies : [];
    }
    // Read the box again: it may have changed while the replies loaded (a
    // choice already inserted must not open the menu once more).
    const prefix = cannedPrefix(this.box.value);
    if (prefix === null) {
      this.menu.hidden = true;
      return;
    }
    const found = this.canned.filter((reply) => reply.shortcut.startsWith(prefix.toLowerCase()));
    this.menu.replaceChildren(
      ...found.map((reply, index) => {
        const item = document.createElement("li");
        item.setAttribute("role", "option");
        item.dataset.shortcut = reply.shortcut;
        const name = document.createElement("strong");
        name.textContent = `/${reply.shortcut}`;
        item.append(name, ` ${reply.body.slice(0, 80)}`);
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          this.choice = index;
          this.insertChoice();
        });
        return item;
      }),
    );
    this.found = found;
    this.choice = 0;
    this.menu.hidden = found.length === 0;
    this.highlight();
  }

  moveChoice(step) {
    this.choice = (this.choice + step + this.found.length) % this.found.length;
    this.highlight();
  }

  highlight() {
    [...this.menu.children].forEach((item, index) => {
      item.setAttribute("aria-selected", String(index === this.choice));
    });
  }

  insertChoice() {
    const reply = this.found?.[this.choice];
    this.menu.hidden = true;
    if (!reply) return;
    this.box.value = this.box.value.replace(/\/[\w-]*$/, reply.body);
    this.box.focus();
  }

  /** Queue the box's text and send it; it is resent after a reconnect. */
  send() {
    const body = this.box.value.trim();
    if (!body) return;
    this.outbox.push({
      conversation_id: this.view.id,
      client_msg_id: crypto.randomUUID(),
      body,
      note: this.noteMode.checked,
    });
    this.box.value = "";
    this.stopTyping();
    this.flush();
  }

  async flush() {
    if (this.flushing || !socket.connected) return;
    this.flushing = true;
    try {
      while (this.outbox.length && socket.connected) {
        const ack = await call("message:send", this.outbox[0]);
        if (!ack.ok && ["timeout", "internal", "rate_limited"].includes(ack.error.code)) break;
        const sent = this.outbox.shift();
        if (ack.ok) this.view.add(ack.message);
        else this.fail(ack.error, sent);
      }
    } finally {
      this.flushing = false;
    }
  }

  fail(error, sent) {
    this.error.textContent = error.message;
    this.error.hidden = false;
    if (!this.box.value) this.box.value = sent.body;
  }
}
