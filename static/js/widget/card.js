/* What the conversation's state shows: the ticket offer (Yes / No), the ticket card with its
 * reference, title and status, and the hand-off bar with "Start a new conversation".
 */
import { chat, el, handedOff } from "./context.js";
import { hideTyping, nearBottom, scrollToEnd } from "./render.js";
import { loadTickets } from "./tickets.js";

// data: {"state", "ticket"} of a messages, poll or stream answer.
export function applyState(data) {
  if (!data || typeof data.state !== "string") {
    return;
  }
  const stick = nearBottom();
  const previousStatus = chat.ticket ? chat.ticket.status : null;
  chat.state = data.state;
  chat.ticket = data.ticket || null;
  el.offer.hidden = chat.state !== "ticket_offered";
  el.yes.disabled = el.no.disabled = false;
  const ticket = chat.ticket;
  el.card.hidden = !ticket;
  if (ticket) {
    el.cardRef.textContent = "Ticket " + (ticket.reference || ticket.id);
    el.cardStatus.textContent = ticket.status_label || ticket.status;
    el.cardStatus.className = "lw-status lw-status-" + String(ticket.status).replace(/[^a-z_]/g, "");
    el.cardTitle.textContent = ticket.title || "";
  }
  const closed = chat.state === "closed";
  el.handoff.hidden = !handedOff();
  el.banner.textContent = closed
    ? "This conversation has ended."
    : "Our team will reply here — no automatic replies in this conversation";
  el.input.disabled = el.send.disabled = closed;
  if (handedOff()) {
    hideTyping();
  }
  if (stick) {
    scrollToEnd(); // the offer or hand-off bar may have taken room from the log
  }
  if (ticket && previousStatus !== null && previousStatus !== ticket.status && !el.viewTickets.hidden) {
    loadTickets();
  }
}

// Yes / No are sent like messages, as {"confirm": true|false}. send (compose.js) and
// startNewConversation (conversation.js) are handed in by the entry module: both modules build on
// this one, and modules never import each other in a circle.
export function bindCard(send, startNewConversation) {
  function confirmOffer(answer) {
    el.yes.disabled = el.no.disabled = true;
    el.offer.hidden = true;
    el.input.focus();
    send({ confirm: answer }, answer ? "Yes" : "No").then((sent) => {
      if (!sent && chat.state === "ticket_offered") {
        el.offer.hidden = false;
        el.yes.disabled = el.no.disabled = false;
      }
    });
  }
  el.yes.addEventListener("click", () => confirmOffer(true));
  el.no.addEventListener("click", () => confirmOffer(false));
  el.startNew.addEventListener("click", startNewConversation);
}
