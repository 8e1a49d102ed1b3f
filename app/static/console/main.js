// The console's entry point: one socket, then the parts this page has.
import { Composer } from "./composer.js";
import { ConversationView } from "./conversation.js";
import { startInbox } from "./inbox.js";
import { startKeys } from "./keys.js";
import { startNotifications } from "./notify.js";
import { startVisitorPresence } from "./presence.js";
import { call, showConnection, socket } from "./socket.js";

const PRESENCE_KEY = "parley:console:presence";

function startPresence() {
  const select = document.querySelector("[data-presence]");
  if (!select) return;
  select.value = localStorage.getItem(PRESENCE_KEY) || "online";
  const announce = () => call("presence:set", { status: select.value });
  select.addEventListener("change", () => {
    localStorage.setItem(PRESENCE_KEY, select.value);
    announce();
  });
  socket.on("connect", announce);
}

showConnection(document.querySelector("[data-connection]"));
startInbox();
startNotifications();
startPresence();
startVisitorPresence();

let composer = null;
const page = document.querySelector("[data-conversation-page]");
if (page) {
  const view = new ConversationView(page);
  view.start();
  const form = page.querySelector("[data-composer]");
  if (form) {
    composer = new Composer(form, view);
    composer.start();
  }
}
startKeys({ composer });
socket.connect();
