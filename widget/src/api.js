// The one global the widget adds: window.Parley.
export const EVENTS = ["message", "open", "close", "unread"];

/** Make the Parley API over `widget` (see README, "Widget"). */
export function makeApi(widget) {
  const handlers = Object.fromEntries(EVENTS.map((name) => [name, new Set()]));

  const api = {
    version: 1,
    /** Open the chat panel. */
    open: () => widget.ui.open(),
    /** Close the chat panel. */
    close: () => widget.ui.close(),
    /** Tell Parley who the visitor is: {id, email, name, hash}. */
    identify(identity) {
      if (!identity || (typeof identity.id !== "string" && typeof identity.id !== "number")) {
        throw new TypeError("Parley.identify needs an object with an id.");
      }
      const clean = { id: String(identity.id) };
      for (const field of ["email", "name", "hash"]) {
        if (identity[field] != null) clean[field] = String(identity[field]);
      }
      widget.chat.identify(clean);
    },
    /** Attach custom attributes (a flat object) to the visitor. */
    setAttributes(attributes) {
      if (!attributes || typeof attributes !== "object") {
        throw new TypeError("Parley.setAttributes needs an object.");
      }
      widget.chat.updateVisitor({ attributes: { ...attributes } });
    },
    /** Call `handler` on `event`; return a function that stops it. */
    on(event, handler) {
      if (!handlers[event]) throw new TypeError(`Parley.on: unknown event "${event}".`);
      handlers[event].add(handler);
      return () => handlers[event].delete(handler);
    },
    /** Stop calling `handler` on `event`. */
    off(event, handler) {
      if (handlers[event]) handlers[event].delete(handler);
    },
    /** Forget this visitor in this browser (call it at logout). */
    shutdown() {
      widget.ui.close();
      widget.chat.forget(true);
    },
  };

  const emit = (event, detail) => {
    for (const handler of handlers[event]) {
      try {
        handler(detail);
      } catch (error) {
        console.error("Parley: a handler for", event, "failed:", error);
      }
    }
  };
  return { api: Object.freeze(api), emit };
}
