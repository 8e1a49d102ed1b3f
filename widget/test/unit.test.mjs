// Unit tests of the widget's pure parts, run by node's own test runner
// (`node --test widget/test/`, called from tests/test_widget_assets.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoff, FIRST_DELAY, JITTER, MAX_DELAY } from "../src/connection.js";
import { chooseLanguage, LANGUAGES, translator } from "../src/i18n.js";
import { accentColors } from "../src/ui.js";

test("backoff doubles from 0.5 s with ±50% jitter and never exceeds 30 s", () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const base = FIRST_DELAY * 2 ** attempt;
    for (let i = 0; i < 50; i++) {
      const delay = backoff(attempt);
      assert.ok(delay >= Math.min(MAX_DELAY, base * (1 - JITTER)), `${attempt}: ${delay}`);
      assert.ok(delay <= Math.min(MAX_DELAY, base * (1 + JITTER)), `${attempt}: ${delay}`);
    }
  }
  assert.equal(backoff(100) <= MAX_DELAY, true);
});

test("backoff is jittered, so clients that dropped together spread out", () => {
  const delays = new Set(Array.from({ length: 20 }, () => backoff(3)));
  assert.ok(delays.size > 1);
});

test("the workspace's language wins, then the browser's, then English", () => {
  assert.equal(chooseLanguage("fr", ["de-DE"]), "fr");
  assert.equal(chooseLanguage(null, ["es-ES", "de-AT"]), "de");
  assert.equal(chooseLanguage(undefined, ["pt-BR"]), "en");
});

test("every language has every English word", () => {
  for (const [lang, words] of Object.entries(LANGUAGES)) {
    assert.deepEqual(Object.keys(words).sort(), Object.keys(LANGUAGES.en).sort(), lang);
  }
});

test("the translator fills placeholders", () => {
  assert.equal(translator("de")("typing", { name: "Alex" }), "Alex schreibt…");
  assert.equal(translator("xx")("openUnread", { n: 3 }), "Open chat, 3 unread");
});

test("accent colours keep text readable and refuse anything but hex", () => {
  assert.deepEqual(accentColors("#0b6e4f"), { accent: "#0b6e4f", onAccent: "#ffffff" });
  assert.deepEqual(accentColors("#ffd500"), { accent: "#ffd500", onAccent: "#111111" });
  assert.deepEqual(accentColors("#fff"), { accent: "#ffffff", onAccent: "#111111" });
  assert.equal(accentColors("red; background: url(x)").accent, "#2457d6");
});
