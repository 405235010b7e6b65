/* Loophole live chat: enhances the launcher <button> and the chat <form> rendered by base.html.
 *
 * Loaded with <script type="module">. The parts are the modules in ./widget/, one per concern:
 *   context.js       the markup's elements, its data-* URLs, the conversation on screen
 *   api.js           the JSON endpoints under /chat/ (CSRF, {"error"} answers, retried sends)
 *   render.js        the message log, links, "typing…", the unread badge
 *   tickets.js       the "My tickets" tab, and switching tabs
 *   card.js          the ticket offer, the ticket card and the hand-off bar
 *   stream.js        live updates: server-sent events, long polling as the fallback
 *   conversation.js  which conversation is on screen (restored, linked, picked or new)
 *   compose.js       the message box and sending
 *   panel.js         the panel as an accessible dialog (keyboard, focus)
 *   host.js          embedded in another site: the host's identity token
 * Each imports only those listed above it, never in a circle: collectstatic names a module by a
 * hash of its content, imports included (loophole/storage.py). This module binds them, and opens
 * the panel when the previous page left it open or a link asks.
 * Message text is written with textContent only: it is never parsed as HTML.
 */
import { bindCard } from "./widget/card.js";
import { bindComposer, send } from "./widget/compose.js";
import { chat, config, root } from "./widget/context.js";
import { bindConversationList, startNewConversation } from "./widget/conversation.js";
import { bindHost, tellHost } from "./widget/host.js";
import { bindPanel, openPanel, wasOpen } from "./widget/panel.js";
import { bindVisibility } from "./widget/stream.js";
import { bindTabs } from "./widget/tickets.js";

function start() {
  bindComposer();
  bindCard(send, startNewConversation);
  bindTabs();
  bindPanel();
  bindConversationList();
  bindVisibility();
  if (config.embedOrigin) {
    bindHost();
  } else {
    // A link to one conversation (channels_io.chat.conversation_link): /#conversation=<id>.
    const linked = /^#conversation=(\d{1,18})$/.exec(window.location.hash);
    if (linked) {
      chat.wanted = Number(linked[1]);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }
  root.hidden = false;
  if (chat.wanted !== null || wasOpen()) {
    openPanel(false); // it was open on the previous page (or a link asks): keep it open, without stealing focus
    tellHost({ type: "loophole:open", open: true });
  }
}

if (root) {
  start();
}
