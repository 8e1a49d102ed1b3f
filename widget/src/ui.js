// The widget's interface, inside an open Shadow DOM root: launcher, panel,
// message log, composer, notices and the pre-chat and offline-email forms.
// It reads the Chat's fields and redraws what changed; it never inserts
// markup except a message's server-sanitised `html`.
import { CSS } from "./styles.js";
import { chooseLanguage, translator } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
  close: "M6 6l12 12M18 6L6 18",
  send: "M3 11l18-8-8 18-2-8-8-2z",
  sound: "M4 9h4l5-4v14l-5-4H4zM16 9a4 4 0 0 1 0 6",
};
const DEFAULT_COLOR = "#2457d6";
const FOCUSABLE = "button,textarea,input,select,a[href],[tabindex='0']";

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") el.className = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  const filled = name === "chat" || name === "send";
  path.setAttribute("fill", filled ? "currentColor" : "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", filled ? "1" : "2");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}

/** Return the accent colour (a valid hex) and a readable text colour on it. */
export function accentColors(color) {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color || "") ? color : DEFAULT_COLOR;
  const full = hex.length === 4 ? "#" + [...hex.slice(1)].map((c) => c + c).join("") : hex;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(full.slice(i, i + 2), 16) / 255);
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  // White text when it contrasts better than near-black text does.
  const onAccent = 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#ffffff" : "#111111";
  return { accent: full, onAccent };
}

function initials(name) {
  const parts = String(name || "?")
    .trim()
    .split(/\s+/);
  return (parts[0][0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

function clock(iso) {
  const date = iso ? new Date(iso) : new Date();
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function minutes(t, seconds) {
  return seconds < 60 ? t("lessThanMinute") : t("minutes", { n: Math.round(seconds / 60) });
}

export class WidgetUI {
  constructor({ chat, store, language, onOpen, onClose, onUnread }) {
    this.chat = chat;
    this.store = store;
    this.languageHint = language;
    this.onOpen = onOpen;
    this.onClose = onClose;
    this.onUnread = onUnread;
    this.isOpen = false;
    this.returnFocus = null;
    this.prechat = null;
    this.emailSaved = null;
    this.rows = new Map();
    this.lastUnread = -1;
    this.build();
  }

  build() {
    this.host = document.createElement("parley-widget");
    this.shadow = this.host.attachShadow({ mode: "open" });
    adoptStyles(this.shadow, CSS);

    this.badge = h("span", { class: "badge", "aria-hidden": "true", hidden: true });
    this.launcher = h(
      "button",
      {
        class: "launcher",
        type: "button",
        "aria-expanded": "false",
        "aria-controls": "parley-panel",
        onclick: () => this.toggle(),
      },
      icon("chat"),
      this.badge,
    );
    this.title = h("h2", { id: "parley-title" });
    this.muteButton = h(
      "button",
      {
        class: "icon",
        type: "button",
        onclick: () => this.toggleMute(),
      },
      icon("sound"),
    );
    this.closeButton = h(
      "button",
      { class: "icon", type: "button", onclick: () => this.close() },
      icon("close"),
    );
    this.notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
    this.log = h("div", { class: "log", role: "log", "aria-live": "polite", tabindex: "0" });
    this.typingLine = h("div", { class: "typing", "aria-live": "polite" });
    this.prechatForm = h("form", {
      class: "card",
      hidden: true,
      novalidate: false,
      onsubmit: (e) => this.submitPrechat(e),
    });
    this.emailForm = this.buildEmailForm();
    this.input = h("textarea", {
      id: "parley-input",
      rows: "1",
      maxlength: "5000",
      onkeydown: (e) => this.keyInComposer(e),
      oninput: () => this.typed(),
    });
    this.inputLabel = h("label", { class: "sr", for: "parley-input" });
    this.sendButton = h("button", { class: "send", type: "submit" }, icon("send"));
    this.composer = h(
      "form",
      { class: "composer", onsubmit: (e) => this.submitMessage(e) },
      this.inputLabel,
      this.input,
      this.sendButton,
    );
    this.panel = h(
      "div",
      {
        class: "panel",
        id: "parley-panel",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "parley-title",
        hidden: true,
        onkeydown: (e) => this.keyInPanel(e),
      },
      h("header", {}, h("div", { class: "titles" }, this.title), this.muteButton, this.closeButton),
      this.notice,
      this.log,
      this.typingLine,
      this.prechatForm,
      this.emailForm,
      this.composer,
    );
    this.root = h("div", { class: "root" }, this.panel, this.launcher);
    this.shadow.append(this.root);
    (document.body || document.documentElement).append(this.host);
  }

  buildEmailForm() {
    this.emailInput = h("input", {
      id: "parley-email",
      type: "email",
      autocomplete: "email",
      required: true,
    });
    this.emailLabel = h("label", { for: "parley-email" });
    this.emailButton = h("button", { class: "primary", type: "submit" });
    this.emailText = h("p");
    return h(
      "form",
      { class: "card", hidden: true, onsubmit: (e) => this.submitEmail(e) },
      this.emailText,
      this.emailLabel,
      this.emailInput,
      this.emailButton,
    );
  }

  toggleMute() {
    this.store.muted = !this.store.muted;
    this.render();
  }

  // Opening and closing ---------------------------------------------------

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  open() {
    if (this.isOpen) return;
    const active = document.activeElement;
    this.returnFocus = active && active !== this.host ? active : this.launcher;
    this.isOpen = true;
    this.render();
    this.chat.connect();
    this.chat.markRead(true);
    this.stopFlash();
    this.firstField().focus();
    this.scrollDown(true);
    this.onOpen();
  }

  close() {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.chat.markRead(false);
    this.chat.stopTyping();
    this.render();
    const target = this.returnFocus;
    this.returnFocus = null;
    if (target && target.isConnected && target.focus) target.focus();
    else this.launcher.focus();
    this.onClose();
  }

  firstField() {
    if (!this.prechatForm.hidden)
      return this.prechatForm.querySelector("input,select") || this.input;
    return this.input;
  }

  // Keyboard: focus stays in the panel while it is open ------------------

  keyInPanel(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return;
    }
    if (event.key !== "Tab") return;
    const items = [...this.panel.querySelectorAll(FOCUSABLE)].filter(
      (el) => !el.disabled && el.getClientRects().length,
    );
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    const current = this.shadow.activeElement;
    if (event.shiftKey && (current === first || !this.panel.contains(current))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && current === last) {
      event.preventDefault();
      first.focus();
    }
  }

  keyInComposer(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.composer.requestSubmit();
    }
  }

  typed() {
    this.grow();
    if (this.input.value.trim()) this.chat.typing(this.input.value);
    else this.chat.stopTyping();
  }

  grow() {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight + 2, 120) + "px";
  }

  // Forms -------------------------------------------------------------------

  submitMessage(event) {
    event.preventDefault();
    const error = this.chat.send(this.input.value, this.prechat);
    if (error === "tooLong") {
      this.flashNotice(this.t("tooLong", { limit: 5000 }));
      return;
    }
    if (error) return;
    this.input.value = "";
    this.grow();
    this.scrollDown(true);
  }

  submitPrechat(event) {
    event.preventDefault();
    if (!this.prechatForm.checkValidity()) {
      this.prechatForm.reportValidity();
      return;
    }
    const values = {};
    for (const field of this.prechatForm.querySelectorAll("input,select")) {
      if (field.value.trim()) values[field.name] = field.value.trim();
    }
    this.prechat = values;
    this.render();
    this.input.focus();
  }

  submitEmail(event) {
    event.preventDefault();
    if (!this.emailInput.checkValidity()) {
      this.emailInput.reportValidity();
      return;
    }
    this.emailSaved = this.emailInput.value.trim();
    this.chat.updateVisitor({ email: this.emailSaved });
    this.render();
    this.input.focus();
  }

  flashNotice(text) {
    this.transient = text;
    this.render();
    clearTimeout(this.transientTimer);
    this.transientTimer = setTimeout(() => {
      this.transient = null;
      this.render();
    }, 6000);
  }

  // Rendering -----------------------------------------------------------------

  render() {
    const chat = this.chat;
    const workspace = chat.workspace || {};
    const lang = chooseLanguage(workspace.language || this.languageHint);
    const t = (this.t = translator(lang));
    const { accent, onAccent } = accentColors(workspace.color);
    this.root.style.setProperty("--accent", accent);
    this.root.style.setProperty("--on-accent", onAccent);
    this.root.lang = lang;
    this.root.classList.toggle("open", this.isOpen);

    this.root.hidden = Boolean(chat.refused);
    this.panel.hidden = !this.isOpen;
    const unread = chat.unread();
    this.launcher.setAttribute("aria-expanded", String(this.isOpen));
    this.launcher.setAttribute(
      "aria-label",
      this.isOpen ? t("close") : unread ? t("openUnread", { n: unread }) : t("open"),
    );
    this.badge.hidden = !unread;
    this.badge.textContent = unread > 99 ? "99+" : String(unread);
    if (!unread) this.stopFlash();
    if (unread !== this.lastUnread) {
      this.lastUnread = unread;
      this.onUnread(unread);
    }

    this.title.textContent = workspace.name ? t("title", { name: workspace.name }) : t("support");
    this.muteButton.setAttribute("aria-label", t("mute"));
    this.muteButton.setAttribute("aria-pressed", String(this.store.muted));
    this.closeButton.setAttribute("aria-label", t("close"));
    this.log.setAttribute("aria-label", t("messages"));
    this.inputLabel.textContent = t("message");
    this.input.placeholder = t("placeholder");
    this.sendButton.setAttribute("aria-label", t("send"));
    this.typingLine.textContent =
      chat.agentTyping === null ? "" : t("typing", { name: chat.agentTyping || t("support") });

    this.renderNotice(t);
    this.renderPrechat(t, workspace);
    this.renderEmail(t);
    if (this.isOpen) this.renderLog(t, workspace);
    this.keepFocus();
  }

  /** Focus the first field if what had focus was just hidden (forms swap). */
  keepFocus() {
    const active = this.shadow.activeElement;
    if (this.isOpen && active && active !== this.launcher && !active.getClientRects().length) {
      this.firstField().focus();
    }
  }

  availability() {
    const summary = this.chat.conversation.summary || {};
    return summary.availability || (this.chat.workspace || {}).availability || null;
  }

  renderNotice(t) {
    const chat = this.chat;
    const summary = chat.conversation.summary || {};
    const lines = [];
    if (chat.refused) lines.push(t("unavailable"));
    else if (chat.reconnecting) lines.push(t("reconnecting"));
    if (this.transient) lines.push(this.transient);
    if (chat.notice) lines.push(t(chat.notice));
    if (summary.status === "closed") lines.push(t("closed"));
    const available = this.availability();
    if (available && available.online === false) {
      lines.push(t(available.reason === "outside_hours" ? "outsideHours" : "noAgents"));
    } else if (summary.queue && !summary.assignee && summary.status !== "closed") {
      lines.push(t("queue", { position: summary.queue.position }));
      if (summary.queue.estimated_wait_seconds != null) {
        lines.push(t("wait", { wait: minutes(t, summary.queue.estimated_wait_seconds) }));
      }
    }
    const text = lines.join(" ");
    if (this.notice.textContent !== text) this.notice.textContent = text;
  }

  renderPrechat(t, workspace) {
    const fields = (workspace.prechat && workspace.prechat.fields) || [];
    const show =
      fields.length > 0 && !this.prechat && !this.chat.conversation.id && !this.chat.outbox.length;
    this.prechatForm.hidden = !show;
    this.composer.hidden = show;
    const signature = JSON.stringify([fields, t("start")]);
    if (!show || this.prechatForm.dataset.sig === signature) return;
    this.prechatForm.dataset.sig = signature;
    const parts = [h("p", {}, t("prechat"))];
    for (const [index, field] of fields.entries()) {
      const id = `parley-field-${index}`;
      const name = String(field.name || `field${index}`);
      const label = field.label || (["name", "email", "topic"].includes(name) ? t(name) : name);
      const common = {
        id,
        name,
        required: Boolean(field.required),
        "aria-required": field.required ? "true" : false,
      };
      const control = field.options
        ? h(
            "select",
            common,
            h("option", { value: "" }, "—"),
            ...field.options.map((o) => h("option", { value: o.value }, o.label || o.value)),
          )
        : h("input", {
            ...common,
            type: name === "email" ? "email" : "text",
            autocomplete: name === "email" ? "email" : name === "name" ? "name" : "off",
          });
      parts.push(h("label", { for: id }, label + (field.required ? " *" : "")), control);
    }
    parts.push(h("button", { class: "primary", type: "submit" }, t("start")));
    this.prechatForm.replaceChildren(...parts);
  }

  renderEmail(t) {
    const available = this.availability();
    const visitor = this.chat.visitor || {};
    const wanted = available && available.online === false && !visitor.email;
    this.emailForm.hidden = !wanted && !this.emailSaved;
    if (this.emailSaved) {
      this.emailText.textContent = t("emailSaved", { email: this.emailSaved });
      for (const el of [this.emailLabel, this.emailInput, this.emailButton]) el.hidden = true;
      return;
    }
    this.emailText.textContent = t("leaveEmail");
    this.emailLabel.textContent = t("email");
    this.emailButton.textContent = t("save");
  }

  renderLog(t, workspace) {
    const chat = this.chat;
    const c = chat.conversation;
    const rows = [
      {
        key: "greeting",
        mine: false,
        body: workspace.greeting || t("greeting"),
        author: { kind: "system", name: workspace.name },
      },
    ];
    for (const m of c.messages) {
      const mine = m.author && m.author.kind === "visitor";
      const status = mine ? (m.seq <= c.agentReadSeq ? "read" : "sent") : null;
      rows.push({
        key: m.client_msg_id ? "c" + m.client_msg_id : "s" + m.seq,
        mine,
        body: m.body,
        html: m.html,
        author: m.author,
        at: m.created_at,
        status,
      });
    }
    for (const m of chat.unplaced.values())
      rows.push({
        key: "c" + m.client_msg_id,
        mine: true,
        body: m.body,
        status: "sent",
        at: m.created_at,
      });
    for (const item of chat.outbox)
      rows.push({ key: "c" + item.client_msg_id, mine: true, body: item.body, status: "sending" });
    for (const item of chat.failed)
      rows.push({
        key: "f" + item.client_msg_id,
        mine: true,
        body: item.body,
        status: "failed",
        error: item.error,
      });

    const nearBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 60;
    const seen = new Set();
    let previousAuthor = null;
    let index = 0;
    for (const row of rows) {
      if (seen.has(row.key)) continue;
      seen.add(row.key);
      const authorKey = row.mine ? "me" : row.author && `${row.author.kind}:${row.author.id || ""}`;
      row.showName = !row.mine && authorKey !== previousAuthor && row.key !== "greeting";
      previousAuthor = authorKey;
      const signature = JSON.stringify([row, t("sent")]);
      let el = this.rows.get(row.key);
      if (!el || el.dataset.sig !== signature) {
        const fresh = this.renderRow(row, t);
        fresh.dataset.sig = signature;
        if (el) el.replaceWith(fresh);
        el = fresh;
        this.rows.set(row.key, el);
      }
      if (this.log.children[index] !== el)
        this.log.insertBefore(el, this.log.children[index] || null);
      index++;
    }
    for (const [key, el] of this.rows) {
      if (!seen.has(key)) {
        el.remove();
        this.rows.delete(key);
      }
    }
    this.scrollDown(nearBottom);
  }

  renderRow(row, t) {
    const bubble = h("div", { class: "bubble" });
    try {
      bubble.append(row.html ? linkified(row.html) : row.body);
    } catch {
      bubble.textContent = row.body; // Trusted Types pages refuse innerHTML
    }
    const body = h("div", { class: "body" });
    const name = (row.author && row.author.name) || t("support");
    if (row.showName) body.append(h("span", { class: "who" }, name));
    body.append(bubble);
    const time = clock(row.at);
    if (row.mine) {
      const status =
        row.status === "failed" && row.error === "tooLong"
          ? t("tooLong", { limit: 5000 })
          : t(row.status);
      const meta = h("span", { class: "meta" }, h("span", { class: "sr" }, t("you") + ", "));
      if (time) meta.append(time + " · ");
      meta.append(h("span", { class: "status" }, status));
      body.append(meta);
    } else if (row.key !== "greeting" && time) {
      body.append(h("span", { class: "meta" }, time));
    }
    const li = h("div", {
      class: "msg" + (row.mine ? " mine" : "") + (row.status === "failed" ? " failed" : ""),
    });
    if (!row.mine) {
      const avatar = h("span", { class: "avatar", "aria-hidden": "true" });
      const url = row.author && row.author.avatar_url;
      if (url && /^https:\/\//.test(url)) avatar.append(h("img", { src: url, alt: "" }));
      else avatar.textContent = initials(name);
      li.append(avatar);
    }
    li.append(body);
    return li;
  }

  scrollDown(force) {
    if (force) this.log.scrollTop = this.log.scrollHeight;
  }

  // Alerts while closed --------------------------------------------------

  /** A message arrived: flash the title and chime unless seen or muted. */
  alert() {
    const seen = this.isOpen && document.visibilityState === "visible";
    if (seen) return;
    if (!this.store.muted && document.visibilityState === "visible") chime();
    this.startFlash();
  }

  startFlash() {
    if (this.flashTimer) return;
    this.flashTimer = setInterval(() => {
      if (document.title === this.flashText) {
        document.title = this.pageTitle;
        return;
      }
      // Read the title each time: the page may have changed it meanwhile.
      this.pageTitle = document.title;
      this.flashText = `(${this.chat.unread() || 1}) ${this.t("newMessage")}`;
      document.title = this.flashText;
    }, 1000);
  }

  stopFlash() {
    if (!this.flashTimer) return;
    clearInterval(this.flashTimer);
    this.flashTimer = null;
    if (document.title === this.flashText) document.title = this.pageTitle;
  }
}

/**
 * Return a message's `html` as nodes: text, line breaks and http(s) or mailto
 * links only. The server already sanitised it; this keeps the widget safe
 * even if it did not. A <template> parses inertly: nothing loads or runs.
 */
function linkified(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  for (const el of [...template.content.querySelectorAll("*")]) {
    const href = el.getAttribute("href") || "";
    if (el.tagName === "A" && /^(https?:|mailto:)/i.test(href)) {
      for (const { name } of [...el.attributes]) el.removeAttribute(name);
      el.setAttribute("href", href);
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener nofollow");
    } else if (el.tagName !== "BR") {
      el.replaceWith(...el.childNodes);
    }
  }
  return template.content;
}

function adoptStyles(shadow, css) {
  // A constructed sheet needs no 'unsafe-inline' in the page's style-src.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    shadow.append(h("style", {}, css));
  }
}

let audio = null;

function chime() {
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.08, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  } catch {
    // No audio (autoplay policy, no device): the badge and title still tell.
  }
}
