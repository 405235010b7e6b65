/* What every part of the widget shares: the elements of base.html's markup, the URLs of its data-*
 * attributes, the open conversation, and a few small helpers.
 */

export const root = document.getElementById("lw");

const $ = (id) => document.getElementById(id);

export const el = {
  launcher: $("lw-launcher"),
  unread: $("lw-unread"),
  panel: $("lw-panel"),
  close: $("lw-close"),
  tabChat: $("lw-tab-chat"),
  tabTickets: $("lw-tab-tickets"),
  viewChat: $("lw-view-chat"),
  viewTickets: $("lw-view-tickets"),
  alert: $("lw-alert"),
  scroll: $("lw-scroll"),
  log: $("lw-log"),
  typing: $("lw-typing"),
  offer: $("lw-offer"),
  yes: $("lw-yes"),
  no: $("lw-no"),
  handoff: $("lw-handoff"),
  card: $("lw-ticket-card"),
  cardRef: $("lw-ticket-ref"),
  cardStatus: $("lw-ticket-status"),
  cardTitle: $("lw-ticket-title"),
  banner: $("lw-banner"),
  startNew: $("lw-new"),
  form: $("lw-form"),
  input: $("lw-input"),
  send: $("lw-send"),
  ticketsStatus: $("lw-tickets-status"),
  ticketList: $("lw-ticket-list"),
  conversationList: $("lw-conversation-list"),
};

const data = root ? root.dataset : {};

export const config = {
  userId: data.userId,
  conversationsUrl: data.conversationsUrl,
  messagesUrl: data.messagesUrl,
  eventsUrl: data.eventsUrl,
  pollUrl: data.pollUrl,
  ticketsUrl: data.ticketsUrl,
  // Set in the frame another site embeds (static/js/embed.js): the host page's origin, our signed
  // proof of it, and where its user's identity token is exchanged.
  embedOrigin: data.embedOrigin || "",
  embedProof: data.embedProof || "",
  identifyUrl: data.identifyUrl || "",
  helpUrl: data.helpUrl || "/help/",
};

// The conversation on screen.
export const chat = {
  conversationId: null,
  lastId: 0,
  lastReplyId: 0,
  seen: new Set(),
  state: null,
  ticket: null,
  storageKey: "loophole.chat.conversation." + config.userId, // its id, kept per account
  identity: Promise.resolve(), // embedded: settles once the host's token is exchanged
  wanted: null, // a conversation to open (a link, or picked from the list)
};

export function handedOff() {
  return chat.state === "handed_off" || chat.state === "closed" || Boolean(chat.ticket);
}

export function urlFor(template, id) {
  return template.replace("/0/", "/" + encodeURIComponent(String(id)) + "/");
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function showError(text) {
  el.alert.textContent = text;
  el.alert.classList.add("lw-alert-shown");
}

export function clearError() {
  el.alert.textContent = "";
  el.alert.classList.remove("lw-alert-shown");
}
