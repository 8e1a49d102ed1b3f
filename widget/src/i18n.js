// The widget's words. English is complete; every other language falls back
// to English for a missing key. Placeholders are written {name}.
const en = {
  open: "Open chat",
  openUnread: "Open chat, {n} unread",
  close: "Close chat",
  title: "Chat with {name}",
  greeting: "Hi! How can we help?",
  messages: "Messages",
  message: "Message",
  placeholder: "Write a message…",
  send: "Send",
  mute: "Mute sounds",
  you: "You",
  support: "Support",
  sending: "Sending",
  sent: "Sent",
  read: "Read",
  failed: "Not sent",
  typing: "{name} is typing…",
  reconnecting: "Reconnecting…",
  queue: "You are number {position} in the queue.",
  wait: "Estimated wait: {wait}.",
  minutes: "about {n} min",
  lessThanMinute: "less than a minute",
  noAgents: "No one is available right now.",
  outsideHours: "We are outside our business hours.",
  leaveEmail: "Leave your email and we will reply there.",
  email: "Email",
  name: "Name",
  topic: "Topic",
  save: "Save",
  emailSaved: "Thanks, we will reply to {email}.",
  prechat: "Tell us a little about yourself to start.",
  start: "Start chat",
  closed: "This conversation has ended. Write to start a new one.",
  tooLong: "This message is too long: at most {limit} characters.",
  rateLimited: "You are sending messages quickly; yours will go out in a moment.",
  unavailable: "Chat is not available on this website.",
  newMessage: "New message",
  required: "Required",
};

const de = {
  open: "Chat öffnen",
  openUnread: "Chat öffnen, {n} ungelesen",
  close: "Chat schließen",
  title: "Chat mit {name}",
  greeting: "Hallo! Wie können wir helfen?",
  messages: "Nachrichten",
  message: "Nachricht",
  placeholder: "Nachricht schreiben…",
  send: "Senden",
  mute: "Töne aus",
  you: "Sie",
  support: "Support",
  sending: "Wird gesendet",
  sent: "Gesendet",
  read: "Gelesen",
  failed: "Nicht gesendet",
  typing: "{name} schreibt…",
  reconnecting: "Verbindung wird wiederhergestellt…",
  queue: "Sie sind Nummer {position} in der Warteschlange.",
  wait: "Geschätzte Wartezeit: {wait}.",
  minutes: "etwa {n} Min.",
  lessThanMinute: "weniger als eine Minute",
  noAgents: "Gerade ist niemand erreichbar.",
  outsideHours: "Wir sind außerhalb unserer Geschäftszeiten.",
  leaveEmail: "Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten dorthin.",
  email: "E-Mail",
  name: "Name",
  topic: "Thema",
  save: "Speichern",
  emailSaved: "Danke, wir antworten an {email}.",
  prechat: "Erzählen Sie uns kurz etwas über sich.",
  start: "Chat starten",
  closed: "Dieses Gespräch ist beendet. Schreiben Sie, um ein neues zu beginnen.",
  tooLong: "Diese Nachricht ist zu lang: höchstens {limit} Zeichen.",
  rateLimited: "Sie schreiben sehr schnell; Ihre Nachricht geht gleich hinaus.",
  unavailable: "Der Chat ist auf dieser Website nicht verfügbar.",
  newMessage: "Neue Nachricht",
  required: "Pflichtfeld",
};

const fr = {
  open: "Ouvrir le chat",
  openUnread: "Ouvrir le chat, {n} non lus",
  close: "Fermer le chat",
  title: "Discuter avec {name}",
  greeting: "Bonjour ! Comment pouvons-nous vous aider ?",
  messages: "Messages",
  message: "Message",
  placeholder: "Écrivez un message…",
  send: "Envoyer",
  mute: "Couper le son",
  you: "Vous",
  support: "Support",
  sending: "Envoi",
  sent: "Envoyé",
  read: "Lu",
  failed: "Non envoyé",
  typing: "{name} écrit…",
  reconnecting: "Reconnexion…",
  queue: "Vous êtes numéro {position} dans la file d’attente.",
  wait: "Attente estimée : {wait}.",
  minutes: "environ {n} min",
  lessThanMinute: "moins d’une minute",
  noAgents: "Personne n’est disponible pour le moment.",
  outsideHours: "Nous sommes en dehors de nos heures d’ouverture.",
  leaveEmail: "Laissez votre e-mail et nous vous répondrons.",
  email: "E-mail",
  name: "Nom",
  topic: "Sujet",
  save: "Enregistrer",
  emailSaved: "Merci, nous répondrons à {email}.",
  prechat: "Présentez-vous en quelques mots pour commencer.",
  start: "Commencer",
  closed: "Cette conversation est terminée. Écrivez pour en commencer une nouvelle.",
  tooLong: "Ce message est trop long : {limit} caractères au plus.",
  rateLimited: "Vous écrivez vite ; votre message partira dans un instant.",
  unavailable: "Le chat n’est pas disponible sur ce site.",
  newMessage: "Nouveau message",
  required: "Obligatoire",
};

export const LANGUAGES = { en, de, fr };

/** Pick the first supported language: the workspace's, then the browser's. */
export function chooseLanguage(preferred, browser = navigator.languages || [navigator.language]) {
  for (const tag of [preferred, ...browser]) {
    const base = String(tag || "")
      .toLowerCase()
      .split("-")[0];
    if (LANGUAGES[base]) return base;
  }
  return "en";
}

/** Return a translator for `lang`: t(key, {placeholder: value}). */
export function translator(lang) {
  const words = LANGUAGES[lang] || en;
  return (key, values = {}) =>
    (words[key] || en[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
