// What the widget keeps in this browser, per widget key, in localStorage:
// the visitor token, the followed conversation (its last seq, read marks and
// the newest messages, so a reload shows them at once), the outbox of sends
// not yet acknowledged, and the mute switch. Other tabs hear of every change
// through a BroadcastChannel, or through storage events where that is absent.

const KEEP_MESSAGES = 200;

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
  };
}

function pickStorage() {
  try {
    const storage = window.localStorage;
    storage.setItem("parley:probe", "1");
    storage.removeItem("parley:probe");
    return storage;
  } catch {
    // Storage is blocked (private mode, cookies off): keep state in memory.
    return memoryStorage();
  }
}

export function emptyConversation() {
  return { id: null, lastSeq: 0, messages: [], summary: null, visitorReadSeq: 0, agentReadSeq: 0 };
}

export class Store {
  constructor(widgetKey) {
    this.prefix = `parley:${widgetKey}:`;
    this.storage = pickStorage();
    this.listeners = new Set();
    this.channel = null;
    if (typeof BroadcastChannel === "function") {
      this.channel = new BroadcastChannel(this.prefix + "tabs");
      this.channel.onmessage = (event) => this.notify(event.data);
    } else {
      window.addEventListener("storage", (event) => {
        if (event.key === this.prefix + "signal" && event.newValue) {
          this.notify(JSON.parse(event.newValue).note);
        }
      });
    }
  }

  read(name, fallback) {
    try {
      const raw = this.storage.getItem(this.prefix + name);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  write(name, value) {
    try {
      if (value === null || value === undefined) this.storage.removeItem(this.prefix + name);
      else this.storage.setItem(this.prefix + name, JSON.stringify(value));
    } catch {
      // Quota exceeded: the widget still works; only the reload cache suffers.
    }
  }

  get token() {
    return this.read("token", null);
  }

  set token(value) {
    this.write("token", value);
  }

  get workspace() {
    return this.read("workspace", null);
  }

  set workspace(value) {
    this.write("workspace", value);
  }

  get muted() {
    return this.read("muted", false);
  }

  set muted(value) {
    this.write("muted", Boolean(value));
    this.tell({ type: "muted" });
  }

  loadConversation() {
    return { ...emptyConversation(), ...this.read("conversation", {}) };
  }

  saveConversation(conversation) {
    const kept = { ...conversation, messages: conversation.messages.slice(-KEEP_MESSAGES) };
    this.write("conversation", kept);
  }

  get outbox() {
    return this.read("outbox", []);
  }

  set outbox(items) {
    this.write("outbox", items);
  }

  /** Forget this visitor in this browser (Parley.shutdown). */
  forget() {
    for (const name of ["token", "visitor", "identity", "conversation", "outbox"])
      this.write(name, null);
  }

  /** Tell the other tabs; `note` is a small plain object. */
  tell(note) {
    if (this.channel) this.channel.postMessage(note);
    else this.write("signal", { note, at: Math.random() });
  }

  notify(note) {
    for (const listener of this.listeners) listener(note);
  }

  subscribe(listener) {
    this.listeners.add(listener);
  }
}
