/* Sending: the message box (Enter sends, Shift+Enter adds a line), the "Sending…" bubble, and the
 * inline alert for an {"error"} answer, with the text kept in the box to send again.
 */
import { errorText, postMessage } from "./api.js";
import { clearError, el, showError } from "./context.js";
import { ensureConversation } from "./conversation.js";
import { addMessage, addPending, awaitReplyTo, failPending, hideTyping, showTyping } from "./render.js";

// body: {"text"} or {"confirm"}; shownText: the bubble's text until the server's message replaces it.
export async function send(body, shownText) {
  clearError();
  try {
    await ensureConversation();
  } catch (ignored) {
    return false;
  }
  const pending = addPending(shownText);
  showTyping();
  try {
    const result = await postMessage(body);
    if (result.status === 201) {
      addMessage(result.data, pending);
      awaitReplyTo(result.data.id);
      return true;
    }
    pending.remove();
    hideTyping();
    if (result.status === 404) {
      showError("This conversation is no longer available. Start a new conversation.");
      el.handoff.hidden = false;
    } else {
      showError(errorText(result, "Your message was not sent. Please try again."));
    }
  } catch (err) {
    failPending(pending);
    hideTyping();
    showError("We couldn't reach Loophole, so your message was not sent. Check your connection and try again.");
  }
  return false;
}

function autosize() {
  el.input.style.height = "auto";
  el.input.style.height = Math.min(el.input.scrollHeight, 140) + "px";
}

export function bindComposer() {
  el.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = el.input.value.trim();
    if (!text) {
      showError("Type a message first.");
      el.input.focus();
      return;
    }
    el.input.value = "";
    autosize();
    const sent = await send({ text: text }, text);
    if (!sent && !el.input.value) {
      el.input.value = text; // keep what they wrote, to send again
      autosize();
    }
  });

  el.input.addEventListener("keydown", (event) => {
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing;
    if (event.key === "Enter" && plain) {
      event.preventDefault();
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  el.input.addEventListener("input", autosize);
}
