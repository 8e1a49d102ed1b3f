// Entry point of the bundle: find our script tag, build the widget, replace
// the loader's queueing Parley with the real API and replay queued calls.
import { makeApi } from "./api.js";
import { Chat } from "./chat.js";
import { Store } from "./store.js";
import { WidgetUI } from "./ui.js";

function findScript() {
  const current = document.currentScript;
  if (current && current.dataset.key) return current;
  return document.querySelector("script[data-key][src*='parley-widget.']");
}

function baseOf(script) {
  if (script.dataset.base) return script.dataset.base;
  // Loaded directly as /widget/parley-widget.<hash>.js: Parley is one up.
  return new URL("..", script.src).href;
}

function boot(script) {
  const key = script.dataset.key;
  const stub = window.Parley;
  const queue = (stub && stub._queue) || [];
  const store = new Store(key);
  const widget = {};
  const { api, emit } = makeApi(widget);

  widget.chat = new Chat({
    base: baseOf(script),
    key,
    store,
    onChange: () => schedule(),
    onIncoming: (message) => {
      widget.ui.alert();
      emit("message", { ...message });
    },
  });
  widget.ui = new WidgetUI({
    chat: widget.chat,
    store,
    language: script.dataset.lang,
    onOpen: () => emit("open"),
    onClose: () => emit("close"),
    onUnread: (count) => emit("unread", count),
  });

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      widget.ui.render();
    });
  }

  window.Parley = api;
  for (const [name, args] of queue) {
    try {
      api[name](...args);
    } catch (error) {
      console.error("Parley:", error);
    }
  }

  addEventListener("offline", () => widget.chat.goOffline());
  addEventListener("online", () => widget.chat.goOnline());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && widget.ui.isOpen) {
      widget.ui.stopFlash();
      widget.chat.markRead(true);
    }
  });
  widget.ui.render();
  start(widget.chat);
}

async function start(chat) {
  try {
    await chat.ensureSession();
  } catch {
    return; // refused (unknown key, forbidden origin); already reported
  }
  // A visitor with a conversation connects now, to hear replies while the
  // panel is closed; everyone else connects when they open it.
  if (chat.conversation.id || chat.outbox.length) chat.connect();
}

const script = findScript();
if (!script || !script.dataset.key) {
  console.warn("Parley: the widget's script tag needs data-key.");
} else if (!(window.Parley && window.Parley.version)) {
  if (document.body) boot(script);
  else document.addEventListener("DOMContentLoaded", () => boot(script), { once: true });
}
