// The script behind /widget.js: tiny and briefly cached. It defines the
// Parley global as a queue (so calls made before the bundle arrives are kept)
// and loads the content-hashed bundle, which is cached for a year.
/* global __PARLEY_BUNDLE__ */
(() => {
  const me = document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!me || window.Parley) return;
  const queue = [];
  const stub = { _queue: queue };
  for (const name of ["open", "close", "identify", "setAttributes", "on", "off", "shutdown"]) {
    stub[name] = (...args) => {
      queue.push([name, args]);
      // As the real `on` does, return a function that stops the handler.
      if (name === "on") return () => window.Parley.off(...args);
    };
  }
  window.Parley = stub;

  const script = document.createElement("script");
  script.async = true;
  script.src = new URL(__PARLEY_BUNDLE__, me.src).href;
  for (const [name, value] of Object.entries(me.dataset)) {
    script.dataset[name] = value;
  }
  script.dataset.base = new URL(".", me.src).href;
  if (me.nonce) script.nonce = me.nonce;
  (document.head || document.documentElement).appendChild(script);
})();
