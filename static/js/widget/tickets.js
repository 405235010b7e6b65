/* The "My tickets" tab: the customer's tickets (refreshed whenever the tab is shown) and their
 * recent conversations, and switching between that tab and the chat.
 */
import { api, errorText } from "./api.js";
import { chat, config, el, showError } from "./context.js";
import { appendLinkified, formatDate, timeElement } from "./render.js";

let ticketsRequest = 0;

function ticketItem(ticket) {
  const item = document.createElement("li");
  item.className = "lw-ticket-item";
  const head = document.createElement("p");
  head.className = "lw-ticket-card-head";
  const ref = document.createElement("span");
  ref.className = "lw-ticket-ref";
  ref.textContent = ticket.reference || ticket.id;
  const status = document.createElement("span");
  status.className = "lw-status lw-status-" + String(ticket.status).replace(/[^a-z_]/g, "");
  status.textContent = ticket.status_label || ticket.status;
  head.append(ref, " ", status);
  const title = document.createElement("p");
  title.className = "lw-ticket-title";
  title.textContent = ticket.title || "";
  const opened = document.createElement("p");
  opened.className = "lw-ticket-when";
  opened.append("Opened ", timeElement(ticket.created_at, formatDate(ticket.created_at)));
  item.append(head, title, opened);
  const reply = document.createElement("p");
  reply.className = "lw-ticket-reply";
  if (ticket.latest_reply) {
    const label = document.createElement("strong");
    label.textContent = "Latest reply from the team";
    const when = ticket.latest_reply.created_at;
    reply.append(label, " (", timeElement(when, formatDate(when)), "): ");
    appendLinkified(reply, ticket.latest_reply.text || "");
    item.appendChild(reply);
  } else if (!ticket.resolved_at) {
    reply.textContent = "Nobody from the team has replied yet.";
    item.appendChild(reply);
  }
  if (ticket.resolved_at) {
    const resolution = document.createElement("div");
    resolution.className = "lw-resolution";
    const when = document.createElement("p");
    when.className = "lw-ticket-when";
    when.append("Resolved on ", timeElement(ticket.resolved_at, formatDate(ticket.resolved_at)));
    const action = document.createElement("p");
    action.className = "lw-action";
    const label = document.createElement("strong");
    label.textContent = "Action taken: ";
    action.appendChild(label);
    appendLinkified(action, ticket.action_taken || "");
    resolution.append(when, action);
    item.appendChild(resolution);
  }
  return item;
}

// "Recent conversations": the server's list, so that any device reopens any of them. A click on
// one is handled in conversation.js, by the button's data-conversation-id.
function conversationItem(conversation) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "lw-conversation";
  button.dataset.conversationId = String(conversation.id);
  if (conversation.id === chat.conversationId) {
    button.setAttribute("aria-current", "true");
  }
  const head = document.createElement("span");
  head.className = "lw-ticket-when";
  head.append(timeElement(conversation.last_message_at, formatDate(conversation.last_message_at)));
  if (conversation.ticket) {
    const ticket = conversation.ticket;
    head.append(" · Ticket " + (ticket.reference || ticket.id) + " · " + (ticket.status_label || ticket.status));
  }
  const last = document.createElement("span");
  last.className = "lw-conversation-last";
  const text = conversation.last_message ? String(conversation.last_message.text || "") : "No messages yet";
  last.textContent = text.length > 90 ? text.slice(0, 89) + "…" : text;
  button.append(head, last);
  item.appendChild(button);
  return item;
}

async function loadConversations() {
  try {
    const result = await api("GET", config.conversationsUrl);
    if (result.status === 200 && Array.isArray(result.data.conversations)) {
      el.conversationList.replaceChildren(...result.data.conversations.map(conversationItem));
    }
  } catch (ignored) {
    /* the tickets' own error says it */
  }
}

export async function loadTickets() {
  const request = ++ticketsRequest;
  loadConversations();
  el.viewTickets.setAttribute("aria-busy", "true");
  if (!el.ticketList.children.length) {
    el.ticketsStatus.textContent = "Loading your tickets…";
  }
  try {
    const result = await api("GET", config.ticketsUrl);
    if (request !== ticketsRequest) {
      return;
    }
    if (result.status !== 200) {
      el.ticketsStatus.textContent = "";
      showError(errorText(result, "Your tickets could not be loaded. Please try again."));
      return;
    }
    const tickets = Array.isArray(result.data.tickets) ? result.data.tickets : [];
    el.ticketList.replaceChildren(...tickets.map(ticketItem));
    el.ticketsStatus.textContent = tickets.length
      ? ""
      : "You have no support tickets. If Loophole AI can't solve something, it offers to open one for you.";
  } catch (ignored) {
    if (request === ticketsRequest) {
      el.ticketsStatus.textContent = "";
      showError("We couldn't reach Loophole. Check your connection.");
    }
  } finally {
    if (request === ticketsRequest) {
      el.viewTickets.removeAttribute("aria-busy");
    }
  }
}

// --- the two tabs ----------------------------------------------------------------------------------

export function selectTab(tab, focus) {
  const isChat = tab === el.tabChat;
  el.tabChat.setAttribute("aria-selected", String(isChat));
  el.tabTickets.setAttribute("aria-selected", String(!isChat));
  el.tabChat.tabIndex = isChat ? 0 : -1;
  el.tabTickets.tabIndex = isChat ? -1 : 0;
  el.viewChat.hidden = !isChat;
  el.viewTickets.hidden = isChat;
  if (!isChat) {
    loadTickets();
  }
  if (focus) {
    tab.focus();
  }
}

export function showChat() {
  if (el.viewChat.hidden) {
    selectTab(el.tabChat, false);
  }
}

export function bindTabs() {
  el.tabChat.addEventListener("click", () => selectTab(el.tabChat, false));
  el.tabTickets.addEventListener("click", () => selectTab(el.tabTickets, false));
}
