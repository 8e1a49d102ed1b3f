// Live inbox: rows and counts are re-rendered by the server when anything
// changes, so the list always reads exactly as a fresh page would.
import { socket } from "./socket.js";

const REFRESH_DELAY_MS = 250;
let timer = null;
let baseTitle = document.title;

/** Fetch fresh counts (and rows when a list is shown) soon, once. */
export function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_DELAY_MS);
}

async function refresh() {
  const table = document.querySelector("[data-inbox]");
  const jobs = [refreshCounts()];
  if (table) jobs.push(refreshRows(table));
  await Promise.allSettled(jobs);
}

async function refreshRows(table) {
  const params = new URLSearchParams({ view: table.dataset.view, page: table.dataset.page });
  const response = await fetch(`/console/inbox/rows?${params}`, { headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const body = table.querySelector("[data-rows]");
  const selected = document.querySelector("tr.selected")?.dataset.conversation;
  // The fragment is rendered and escaped by the server's templates.
  body.innerHTML = await response.text();
  if (selected) body.querySelector(`tr[data-conversation="${selected}"]`)?.classList.add("selected");
  document.dispatchEvent(new CustomEvent("parley:rows"));
}

async function refreshCounts() {
  const response = await fetch("/console/inbox/counts", { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const data = await response.json();
  for (const [view, count] of Object.entries(data.counts)) {
    const element = document.querySelector(`[data-count="${view}"]`);
    if (element) element.textContent = String(count);
  }
  const load = document.querySelector("[data-load]");
  if (load) load.textContent = String(data.load);
  const capacity = document.querySelector("[data-capacity]");
  if (capacity) capacity.textContent = String(data.capacity);
  setUnread(data.counts.unread);
  document.dispatchEvent(new CustomEvent("parley:counts", { detail: data }));
}

/** Show the number of unread conversations in the tab's title. */
export function setUnread(count) {
  document.title = count > 0 ? `(${count}) ${baseTitle}` : baseTitle;
}

export function startInbox() {
  baseTitle = document.title.replace(/^\(\d+\) /, "");
  socket.on("conversation", refreshSoon);
  socket.on("connect", refreshSoon);
}
