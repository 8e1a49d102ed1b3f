// Keyboard shortcuts: j/k move in the list, Enter opens, r replies,
// n writes a note, a assigns, e closes, ? lists them.

function typingInField(event) {
  const target = event.target;
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

function moveSelection(step) {
  const rows = [...document.querySelectorAll("tr[data-conversation]")];
  if (!rows.length) return;
  const current = rows.findIndex((row) => row.classList.contains("selected"));
  const next = current === -1 ? 0 : Math.min(rows.length - 1, Math.max(0, current + step));
  rows.forEach((row) => row.classList.remove("selected"));
  rows[next].classList.add("selected");
  rows[next].scrollIntoView({ block: "nearest" });
}

export function startKeys({ composer }) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event)) return;
    const actions = {
      j: () => moveSelection(1),
      k: () => moveSelection(-1),
      Enter: () => {
        const row = document.querySelector("tr.selected");
        if (row) window.location.href = row.dataset.href;
      },
      r: () => composer?.focus(false),
      n: () => composer?.focus(true),
      a: () => document.querySelector("[data-assign-select]")?.focus(),
      e: () => document.querySelector("form[data-action='close']")?.requestSubmit(),
      "?": () => document.getElementById("shortcuts")?.showModal(),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });
}
