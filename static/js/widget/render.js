/* The message log: bubbles in message-id order, links, the typing indicator and the unread badge.
 * Every piece of text is written with textContent: message text is never parsed as HTML.
 */
import { chat, el, handedOff } from "./context.js";

const AUTHORS = { customer: "You", assistant: "Loophole AI", staff: "Loophole team", system: "Loophole" };
const TYPING_TIMEOUT_MS = 60000;

let unread = 0;
let awaitingReplyTo = null;
let typingTimer = null;

export function formatTime(iso) {
  const date = new Date(iso);
  return isNaN(date) ? "" : date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

export function formatDate(iso) {
  const date = new Date(iso);
  return isNaN(date) ? "" : date.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
}

export function timeElement(iso, text) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = text;
  return time;
}

// Text with http(s) URLs turned into links; everything else stays a text node.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;

export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    while (/[.,;:!?)\]}]$/.test(candidate)) {
      if (candidate.endsWith(")") && candidate.split("(").length > candidate.split(")").length - 1) {
        break; // a balanced parenthesis belongs to the URL (Wikipedia style)
      }
      candidate = candidate.slice(0, -1);
    }
    let url = null;
    try {
      url = new URL(candidate);
    } catch (ignored) {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      continue;
    }
    parent.appendChild(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = url.href;
    link.textContent = candidate;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parent.appendChild(link);
    last = match.index + candidate.length;
  }
  parent.appendChild(document.createTextNode(text.slice(last)));
}

function messageElement(author, text) {
  const known = Object.prototype.hasOwnProperty.call(AUTHORS, author) ? author : "system";
  const item = document.createElement("div");
  item.className = "lw-msg lw-msg-" + known;
  const meta = document.createElement("p");
  meta.className = "lw-meta";
  const who = document.createElement("span");
  who.className = "lw-author";
  who.textContent = AUTHORS[known];
  meta.appendChild(who);
  item.appendChild(meta);
  const body = document.createElement("p");
  body.className = "lw-text";
  appendLinkified(body, text);
  item.appendChild(body);
  return item;
}

function setMessageMeta(item, message) {
  item.dataset.id = String(message.id);
  item.classList.remove("lw-pending", "lw-failed");
  delete item.dataset.pending;
  const meta = item.querySelector(".lw-meta");
  const old = meta.querySelector("time, .lw-state");
  if (old) {
    old.remove();
  }
  meta.appendChild(timeElement(message.created_at, formatTime(message.created_at)));
}

export function nearBottom() {
  return el.scroll.scrollHeight - el.scroll.scrollTop - el.scroll.clientHeight < 80;
}

export function scrollToEnd() {
  el.scroll.scrollTop = el.scroll.scrollHeight;
}

// Keeps the log ordered by message id; bubbles still being sent stay at the end.
function placeById(item, id) {
  for (const child of el.log.children) {
    if (child === item) {
      continue;
    }
    if (child.dataset.pending || Number(child.dataset.id) > id) {
      el.log.insertBefore(item, child);
      return;
    }
  }
  el.log.appendChild(item);
}

export function addPending(text) {
  const item = messageElement("customer", text);
  item.classList.add("lw-pending");
  item.dataset.pending = text;
  const state = document.createElement("span");
  state.className = "lw-state";
  state.textContent = "Sending…";
  item.querySelector(".lw-meta").appendChild(state);
  el.log.appendChild(item);
  scrollToEnd();
  return item;
}

export function failPending(item) {
  item.classList.add("lw-failed");
  const state = item.querySelector(".lw-state");
  if (state) {
    state.textContent = "Not sent";
  }
}

export function addMessage(message, pendingItem) {
  if (!message || typeof message.id !== "number") {
    return;
  }
  const stick = nearBottom();
  if (chat.seen.has(message.id)) {
    if (pendingItem && pendingItem.isConnected && !pendingItem.dataset.id) {
      pendingItem.remove(); // the stream delivered it first
    }
    return;
  }
  chat.seen.add(message.id);
  chat.lastId = Math.max(chat.lastId, message.id);
  let item = pendingItem && pendingItem.isConnected && !pendingItem.dataset.id ? pendingItem : null;
  if (!item && message.author === "customer") {
    // Our own message, pushed before the POST answered: it takes over its "Sending…" bubble.
    item = Array.from(el.log.querySelectorAll(".lw-pending")).find((p) => p.dataset.pending === message.text) || null;
  }
  if (!item) {
    item = messageElement(message.author, String(message.text || ""));
  }
  setMessageMeta(item, message);
  placeById(item, message.id);
  if (message.author !== "customer") {
    chat.lastReplyId = Math.max(chat.lastReplyId, message.id);
    if (awaitingReplyTo !== null && message.id > awaitingReplyTo) {
      hideTyping();
    }
    if (el.panel.hidden) {
      unread += 1;
      renderUnread();
    }
  }
  if (stick || message.author === "customer") {
    scrollToEnd();
  }
}

export function clearLog() {
  el.log.replaceChildren();
  chat.seen = new Set();
  chat.lastId = 0;
  chat.lastReplyId = 0;
  hideTyping();
}

function renderUnread() {
  el.unread.hidden = unread === 0;
  el.unread.textContent = unread > 9 ? "9+" : String(unread);
  el.launcher.setAttribute("aria-label", unread ? "Chat with us, " + unread + " new" : "Chat with us");
  if (!unread) {
    el.launcher.removeAttribute("aria-label");
  }
}

export function clearUnread() {
  unread = 0;
  renderUnread();
}

// --- "Loophole AI is typing…" --------------------------------------------------------------------

export function showTyping() {
  if (handedOff()) {
    return;
  }
  el.typing.hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  scrollToEnd();
}

export function hideTyping() {
  el.typing.hidden = true;
  awaitingReplyTo = null;
  clearTimeout(typingTimer);
}

export function awaitReplyTo(messageId) {
  if (handedOff() || chat.lastReplyId > messageId) {
    hideTyping(); // handed off, or the reply was pushed before the POST answered
    return;
  }
  awaitingReplyTo = messageId;
}
