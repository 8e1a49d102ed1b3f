// The conversation engine, with no DOM: session, socket, sync, outbox, read
// marks and typing, following docs/protocol.md. The UI reads its fields and
// is told of every change through `onChange`.
import { ACK_TIMEOUT, backoff, makeSocket, openSession, sleep } from "./connection.js";
import { emptyConversation } from "./store.js";

const BODY_LIMIT = 5000;
const TYPING_EVERY = 2000;
const TYPING_IDLE = 4000;
// An agent's typing that never got its `typing: false` (a dropped socket)
// fades after this long.
const TYPING_FADE = 8000;
const FINAL_ERRORS = new Set([
  "invalid",
  "invalid_body",
  "empty_body",
  "body_too_long",
  "invalid_client_id",
  "payload_too_large",
  "unknown_event",
]);

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID is missing outside secure contexts (plain http pages).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Where the visitor is now; sent with the session and with each message. */
export function currentPage() {
  return {
    url: location.href.slice(0, 2000),
    title: document.title.slice(0, 500),
    referrer: document.referrer.slice(0, 2000),
  };
}

export class Chat {
  constructor({ base, key, store, onChange, onIncoming }) {
    this.base = base;
    this.key = key;
    this.store = store;
    this.onChange = onChange;
    this.onIncoming = onIncoming;
    this.socket = null;
    this.session = null;
    this.workspace = store.workspace;
    this.visitor = null;
    this.conversation = store.loadConversation();
    this.outbox = store.outbox;
    this.failed = [];
    this.unplaced = new Map();
    this.connected = false;
    this.reconnecting = false;
    this.synced = false;
    this.loaded = false;
    this.refused = null;
    this.notice = null;
    this.agentTyping = null;
    this.identity = null;
    this.attributes = null;
    this.pendingUpdate = null;
    this.readSent = 0;
    this.generation = 0;
    this.authAttempts = 0;
    this.internalErrors = 0;
    this.syncFailures = 0;
    this.typingSentAt = 0;
    this.typingTimer = null;
    store.subscribe((note) => this.hear(note));
  }

  changed() {
    this.onChange();
  }

  save() {
    this.store.saveConversation(this.conversation);
  }

  // Session ------------------------------------------------------------

  /** Open (or reuse) the visitor session; retried with backoff. */
  ensureSession() {
    if (!this.session) this.session = this.openSessionWithRetry(++this.generation);
    return this.session;
  }

  async openSessionWithRetry(generation) {
    for (let attempt = 0; ; attempt++) {
      try {
        const data = await openSession(this.base, this.sessionBody());
        // identify() or shutdown() started a newer session meanwhile.
        if (generation !== this.generation) return this.session;
        return this.adoptSession(data);
      } catch (error) {
        if (error.code === "identity_invalid" && this.identity) {
          // Enforced verification refused the identity: chat anonymously.
          console.warn("Parley: identify() was refused:", error.message);
          this.identity = null;
          continue;
        }
        if (!error.retryable) {
          this.refuse(error.code, error.message);
          throw error;
        }
        this.reconnecting = attempt > 0;
        this.changed();
        await sleep(backoff(attempt));
      }
    }
  }

  sessionBody() {
    const body = { key: this.key, page: currentPage() };
    const token = this.store.token;
    if (token) body.token = token;
    // Optional fields (docs/protocol.md, "Widget settings, identity and
    // queue"): only sent once the host page called identify() or
    // setAttributes().
    if (this.identity) body.identity = this.identity;
    if (this.attributes) body.attributes = this.attributes;
    return body;
  }

  adoptSession(data) {
    const known = this.store.read("visitor", null);
    this.visitor = data.visitor || {};
    this.store.token = data.token;
    this.store.write("visitor", this.visitor.id);
    this.workspace = data.workspace || {};
    this.store.workspace = this.workspace;
    if (known && known !== this.visitor.id) {
      // A new visitor (the token had expired, or identify() switched): the
      // old one's conversation is not theirs to see.
      this.resetConversation(null);
    }
    const list = (data.conversations || []).slice().sort((a, b) => b.id - a.id);
    const current = list.find((c) => c.id === this.conversation.id);
    const newest = list.find((c) => c.status !== "closed");
    if (current) this.applySummary(current);
    else if (newest && (!this.conversation.id || this.isClosed())) this.adopt(newest);
    this.reconnecting = false;
    this.changed();
    return data;
  }

  refuse(code, message) {
    this.refused = code || "refused";
    console.warn("Parley: chat is unavailable:", message);
    if (this.socket) this.socket.disconnect();
    this.changed();
  }

  // Socket --------------------------------------------------------------

  /** Connect the socket (once); it then stays connected, reconnecting. */
  async connect() {
    if (this.socket || this.refused) return;
    try {
      await this.ensureSession();
    } catch {
      return; // refused: unknown key or forbidden origin, already reported
    }
    if (this.socket || this.refused) return;
    const socket = makeSocket(this.base, { key: this.key, token: this.store.token });
    this.socket = socket;
    socket.on("connect", () => this.connectedNow());
    socket.on("disconnect", (reason) => this.disconnected(reason));
    socket.on("connect_error", (error) => this.connectFailed(error));
    socket.on("message", (message) => this.live(message));
    socket.on("typing", (event) => this.typingEvent(event));
    socket.on("read", (event) => this.readEvent(event));
    socket.on("conversation", (summary) => this.summaryEvent(summary));
    socket.on("resync", () => this.sync().catch(() => {}));
    if (navigator.onLine !== false) socket.connect();
  }

  async connectedNow() {
    this.connected = true;
    this.authAttempts = 0;
    this.synced = false;
    this.reconnecting = false;
    this.changed();
    try {
      await this.sync();
    } catch {
      // Dropped during the sync: the next connect syncs again. Still up (a
      // refused or timed-out sync): try again after a pause.
      if (this.socket && this.socket.connected) {
        setTimeout(
          () => this.socket && this.socket.connected && this.connectedNow(),
          backoff(this.syncFailures++),
        );
      }
      return;
    }
    this.syncFailures = 0;
    this.synced = true;
    this.flushUpdate();
    this.markRead();
    this.pump();
  }

  disconnected(reason) {
    this.connected = false;
    this.synced = false;
    this.agentTyping = null;
    this.reconnecting = reason !== "io client disconnect" || !navigator.onLine;
    // The server closed us on purpose; Socket.IO does not retry that itself.
    if (reason === "io server disconnect") this.retryConnect(0);
    this.changed();
  }

  async connectFailed(error) {
    const code = error && error.data && error.data.code;
    if (code === "unknown_key" || code === "origin_forbidden") {
      this.refuse(code, error.message);
      return;
    }
    this.reconnecting = true;
    this.changed();
    if (code === "unauthorized" || code === "token_mismatch") {
      // The token is bad or belongs elsewhere: get a new session, then retry.
      this.store.token = null;
      this.session = null;
      this.retryConnect(this.authAttempts++);
    }
  }

  async retryConnect(attempt) {
    await sleep(backoff(attempt));
    try {
      await this.ensureSession();
    } catch {
      return;
    }
    if (!this.socket || this.socket.connected) return;
    this.socket.auth = { key: this.key, token: this.store.token };
    this.socket.connect();
  }

  /** Emit with an ack; reject on timeout or when not connected. */
  request(event, payload) {
    if (!this.socket || !this.socket.connected) return Promise.reject(new Error("offline"));
    return this.socket.timeout(ACK_TIMEOUT).emitWithAck(event, payload);
  }

  goOffline() {
    if (this.socket) this.socket.disconnect();
    this.reconnecting = true;
    this.changed();
  }

  goOnline() {
    if (this.socket && !this.socket.connected && !this.refused) this.socket.connect();
    else if (!this.socket && (this.conversation.id || this.outbox.length)) this.connect();
  }

  // Sync -------------------------------------------------------------------

  /** Catch up: ask for everything after the last seq held, until complete. */
  sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = this.syncLoop().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  async syncLoop() {
    let more = true;
    while (more || this.syncAgain) {
      this.syncAgain = false;
      const asked = this.conversation.id;
      const conversations = asked ? { [asked]: this.conversation.lastSeq } : {};
      const ack = await this.request("sync", { conversations });
      if (!ack || !ack.ok) throw new Error("sync refused");
      more = this.applySync(ack.conversations || [], asked);
    }
    this.loaded = true;
    this.save();
    this.changed();
  }

  applySync(list, asked) {
    let more = false;
    let found = false;
    for (const item of list.slice().sort((a, b) => b.id - a.id)) {
      if (!this.conversation.id && item.status !== "closed") this.adopt(item);
      if (item.id !== this.conversation.id) continue;
      found = true;
      this.applySummary(item);
      for (const message of item.messages || []) this.place(message);
      more = more || Boolean(item.more);
    }
    // Unknown or foreign ids are left out of the ack: forget this one.
    if (asked && !found && this.conversation.id === asked) this.resetConversation(null);
    return more;
  }

  // Conversation state ---------------------------------------------------

  isClosed() {
    const summary = this.conversation.summary;
    return Boolean(summary && summary.status === "closed");
  }

  resetConversation(id) {
    this.conversation = { ...emptyConversation(), id };
    this.unplaced.clear();
    this.save();
  }

  adopt(summary) {
    if (this.conversation.id !== summary.id) this.resetConversation(summary.id);
    this.applySummary(summary);
  }

  applySummary(summary) {
    const c = this.conversation;
    if (summary.id !== c.id) return;
    c.summary = { ...c.summary, ...summary, messages: undefined };
    c.agentReadSeq = Math.max(c.agentReadSeq, summary.agent_read_seq || 0);
    c.visitorReadSeq = Math.max(c.visitorReadSeq, summary.visitor_read_seq || 0);
    this.save();
    this.changed();
  }

  /** Apply one message in order; return false when it cannot be placed. */
  place(message, previous) {
    const c = this.conversation;
    if (message.conversation_id !== c.id) return true;
    this.settle(message);
    if (message.seq <= c.lastSeq) return true; // held already: a duplicate
    const before = previous === undefined ? message.seq - 1 : previous;
    if (previous !== undefined && before !== c.lastSeq) return false;
    c.messages.push(slim(message));
    c.lastSeq = message.seq;
    if (this.agentTyping && message.author && message.author.kind === "agent")
      this.agentTyping = null;
    // Alerts are for what arrives while this page is open, not for history.
    if (this.loaded && isIncoming(message) && message.seq > c.visitorReadSeq) {
      this.onIncoming(message);
    }
    this.changed();
    return true;
  }

  /** A send of ours came back stored: take it out of the outbox. */
  settle(message) {
    const id = message.client_msg_id;
    if (!id) return;
    this.unplaced.delete(id);
    if (this.outbox.some((item) => item.client_msg_id === id)) {
      this.outbox = this.outbox.filter((item) => item.client_msg_id !== id);
      this.store.outbox = this.outbox;
    }
  }

  live(message) {
    const c = this.conversation;
    if (!c.id || (this.isClosed() && message.conversation_id !== c.id)) {
      this.resetConversation(message.conversation_id);
      this.sync().catch(() => {});
      return;
    }
    if (message.conversation_id !== c.id) return;
    const previous = message.prev_seq === undefined ? message.seq - 1 : message.prev_seq;
    if (!this.place(message, previous)) this.sync().catch(() => {});
    else this.save();
    this.markRead();
  }

  typingEvent(event) {
    if (event.conversation_id !== this.conversation.id) return;
    clearTimeout(this.fadeTimer);
    this.agentTyping = event.typing ? (event.author && event.author.name) || "" : null;
    if (event.typing)
      this.fadeTimer = setTimeout(() => this.typingEvent({ ...event, typing: false }), TYPING_FADE);
    this.changed();
  }

  readEvent(event) {
    const c = this.conversation;
    if (event.conversation_id !== c.id || event.by !== "agent") return;
    c.agentReadSeq = Math.max(c.agentReadSeq, event.seq);
    this.save();
    this.changed();
  }

  summaryEvent(summary) {
    if (summary.id === this.conversation.id) this.applySummary(summary);
    else if (!this.conversation.id || this.isClosed()) {
      this.adopt(summary);
      this.sync().catch(() => {});
    }
  }

  // Sending ---------------------------------------------------------------

  /** Queue `body` for sending; return an error key, or null when queued. */
  send(body, prechat) {
    const text = body.trim();
    if (!text) return "empty";
    if (text.length > BODY_LIMIT) return "tooLong";
    const item = { client_msg_id: newClientId(), body: text, page: currentPage(), at: Date.now() };
    if (prechat) item.prechat = prechat;
    this.outbox = dedupe([...this.store.outbox, item]);
    this.store.outbox = this.outbox;
    this.store.tell({ type: "outbox" });
    this.stopTyping();
    this.changed();
    if (!this.socket) this.connect();
    else this.pump();
    return null;
  }

  /** Send the outbox, oldest first, one at a time, each until acked. */
  async pump() {
    if (this.pumping || !this.synced) return;
    this.pumping = true;
    try {
      while (this.connected && this.synced && this.outbox.length) {
        if (!(await this.sendOne(this.outbox[0]))) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  payload(item) {
    const c = this.conversation;
    const conversationId = this.isClosed() ? null : c.id;
    const payload = {
      conversation_id: conversationId,
      client_msg_id: item.client_msg_id,
      body: item.body,
      page: item.page,
    };
    if (item.prechat && conversationId === null) payload.prechat = item.prechat;
    return payload;
  }

  /** Send one item; return true to go on with the next, false to stop. */
  async sendOne(item) {
    let ack;
    try {
      ack = await this.request("message:send", this.payload(item));
    } catch {
      return false; // No ack (dropped or timed out): resent after the next sync.
    }
    if (ack && ack.ok) {
      this.delivered(ack.message, ack.conversation);
      return true;
    }
    const error = (ack && ack.error) || { code: "internal" };
    if (error.code === "rate_limited") {
      this.notice = "rateLimited";
      this.changed();
      await sleep(1000 * ((error.details && error.details.retry_after) || 2));
      this.notice = null;
    } else if (error.code === "internal") {
      await sleep(backoff(this.internalErrors++));
    } else if (error.code === "conversation_closed" || error.code === "not_found") {
      this.resetConversation(null);
    } else if (FINAL_ERRORS.has(error.code)) {
      this.drop(item, error);
    } else {
      return false;
    }
    return true;
  }

  delivered(message, summary) {
    this.internalErrors = 0;
    if (summary && summary.id !== this.conversation.id) this.adopt(summary);
    else if (summary) this.applySummary(summary);
    this.takeOwn(message);
    this.store.tell({ type: "message", message, summary });
  }

  /** Place a message we (or another tab) sent, known only from its ack. */
  takeOwn(message) {
    const c = this.conversation;
    if (message.conversation_id !== c.id) return;
    if (message.seq === c.lastSeq + 1) {
      this.place(message);
    } else {
      this.settle(message);
      if (message.seq > c.lastSeq) {
        // Something before it has not reached us yet: show it as sent until
        // the sync brings everything in order.
        this.unplaced.set(message.client_msg_id, slim(message));
        this.sync().catch(() => {});
      }
    }
    this.save();
    this.changed();
  }

  drop(item, error) {
    this.outbox = this.outbox.filter((o) => o.client_msg_id !== item.client_msg_id);
    this.store.outbox = this.outbox;
    this.failed.push({
      ...item,
      error: error.code === "body_too_long" ? "tooLong" : "failed",
      limit: BODY_LIMIT,
    });
    this.changed();
  }

  // Read marks and typing ------------------------------------------------

  /** Mark everything read when the visitor can see it. */
  markRead(visible = this.visible) {
    this.visible = visible;
    const c = this.conversation;
    if (!visible || document.visibilityState === "hidden" || !c.id) return;
    if (c.lastSeq > c.visitorReadSeq) {
      c.visitorReadSeq = c.lastSeq;
      this.save();
      this.store.tell({ type: "read", id: c.id, seq: c.lastSeq });
      this.changed();
    }
    if (this.synced && c.visitorReadSeq > this.readSent) {
      const seq = c.visitorReadSeq;
      this.request("read", { conversation_id: c.id, seq }).then(
        () => {
          this.readSent = Math.max(this.readSent, seq);
        },
        () => {},
      );
    }
  }

  unread() {
    const c = this.conversation;
    return c.messages.filter((m) => isIncoming(m) && m.seq > c.visitorReadSeq).length;
  }

  /** The visitor is typing `draft`; throttled as the server does. */
  typing(draft) {
    const c = this.conversation;
    if (!c.id || !this.synced || this.isClosed()) return;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE);
    const now = Date.now();
    if (now - this.typingSentAt < TYPING_EVERY) return;
    this.typingSentAt = now;
    this.socket.emit("typing", {
      conversation_id: c.id,
      typing: true,
      draft: draft.slice(0, BODY_LIMIT),
    });
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (!this.typingSentAt) return;
    this.typingSentAt = 0;
    const c = this.conversation;
    if (this.socket && this.socket.connected && c.id) {
      this.socket.emit("typing", { conversation_id: c.id, typing: false });
    }
  }

  // Visitor details (visitor:update) ------------------------------------

  /** Send name, email or attributes with `visitor:update` when connected. */
  updateVisitor(fields) {
    this.pendingUpdate = { ...this.pendingUpdate, ...fields };
    if (fields.attributes) this.attributes = { ...this.attributes, ...fields.attributes };
    if (this.synced) this.flushUpdate();
    else this.connect();
  }

  async flushUpdate() {
    const fields = this.pendingUpdate;
    if (!fields) return;
    this.pendingUpdate = null;
    try {
      const ack = await this.request("visitor:update", fields);
      if (ack && ack.ok && ack.visitor) this.visitor = ack.visitor;
    } catch {
      this.pendingUpdate = { ...fields, ...this.pendingUpdate };
    }
    this.changed();
  }

  /** identify(): a new identity means a new session (and maybe visitor). */
  identify(identity) {
    // Remembered across page loads: someone else signing in on this browser
    // (without shutdown() at the last logout) must not see the last history.
    const known = this.store.read("identity", null);
    if (known && known !== identity.id) this.forget(true);
    this.identity = identity;
    this.store.write("identity", identity.id);
    this.session = null;
    this.ensureSession().catch(() => {});
    if (this.socket) this.reconnectWithToken();
  }

  async reconnectWithToken() {
    await this.ensureSession().catch(() => {});
    if (!this.socket) return;
    this.socket.disconnect();
    this.socket.auth = { key: this.key, token: this.store.token };
    this.socket.connect();
  }

  // Other tabs --------------------------------------------------------------

  hear(note) {
    if (note.type === "outbox") {
      this.outbox = dedupe([...this.store.outbox]);
    } else if (note.type === "message") {
      const summary = note.summary;
      const adopting =
        summary &&
        summary.id !== this.conversation.id &&
        (!this.conversation.id || this.isClosed());
      if (adopting) this.adopt(summary);
      this.takeOwn(note.message);
      // Syncing a conversation is what joins its room for live replies.
      if (!this.socket) this.connect();
      else if (adopting) this.sync().catch(() => {});
    } else if (note.type === "read" && note.id === this.conversation.id) {
      this.conversation.visitorReadSeq = Math.max(this.conversation.visitorReadSeq, note.seq);
    } else if (note.type === "forget") {
      this.forget(false);
    }
    this.changed();
  }

  /** Parley.shutdown(): forget this visitor here and in every tab. */
  forget(tellTabs = true) {
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
    }
    this.socket = null;
    this.session = null;
    this.generation++;
    this.connected = this.synced = this.reconnecting = false;
    this.store.forget();
    this.outbox = [];
    this.failed = [];
    this.visitor = null;
    this.resetConversation(null);
    this.readSent = 0;
    if (tellTabs) this.store.tell({ type: "forget" });
    this.changed();
  }
}

function isIncoming(message) {
  const kind = message.author && message.author.kind;
  return kind === "agent" || kind === "system";
}

function slim(message) {
  const { id, seq, author, body, html, client_msg_id, created_at } = message;
  return { id, seq, author, body, html, client_msg_id, created_at };
}

function dedupe(items) {
  const seen = new Set();
  return items.filter((item) => !seen.has(item.client_msg_id) && seen.add(item.client_msg_id));
}
