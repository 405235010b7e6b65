/* Which conversation is on screen: the one kept in localStorage, else the customer's newest open
 * one on the server (another device's), else a new one; a link's or the list's pick; a new one on
 * request.
 */
import { api, errorText } from "./api.js";
import { applyState } from "./card.js";
import { chat, clearError, config, el, showError, urlFor } from "./context.js";
import { addMessage, clearLog } from "./render.js";
import { connect, disconnect } from "./stream.js";
import { showChat } from "./tickets.js";

let starting = null; // the promise of the conversation being restored or created
let missing = false;

function rememberConversation(id) {
  chat.conversationId = id;
  try {
    localStorage.setItem(chat.storageKey, String(id));
  } catch (ignored) {
    /* private mode: the conversation lasts for this page only */
  }
}

function storedConversation() {
  try {
    const value = Number(localStorage.getItem(chat.storageKey));
    return Number.isInteger(value) && value > 0 ? value : null;
  } catch (ignored) {
    return null;
  }
}

function unreachable(err) {
  return err instanceof TypeError ? "We couldn't reach Loophole. Check your connection." : err.message;
}

async function createConversation() {
  const result = await api("POST", config.conversationsUrl, {});
  if (result.status !== 201 || typeof result.data.id !== "number") {
    throw new Error(errorText(result, "The chat could not start. Please try again."));
  }
  rememberConversation(result.data.id);
  applyState({ state: result.data.state, ticket: null });
}

// The conversation's whole history and state; false when it is gone or another customer's.
async function openExisting(id) {
  const result = await api("GET", urlFor(config.messagesUrl, id) + "?after=0");
  if (result.status === 404) {
    return false;
  }
  if (result.status !== 200) {
    throw new Error(errorText(result, "The chat could not load. Please try again."));
  }
  clearLog();
  rememberConversation(id);
  (result.data.messages || []).forEach((m) => addMessage(m));
  applyState(result.data);
  return true;
}

// The customer's newest open conversation on the server: another device's, or one local storage lost.
async function newestConversation() {
  const result = await api("GET", config.conversationsUrl);
  const listed = result.status === 200 && Array.isArray(result.data.conversations) ? result.data.conversations : [];
  const open = listed.find((c) => c && typeof c.id === "number" && c.state !== "closed");
  return open ? open.id : null;
}

async function restoreOrCreate() {
  await chat.identity;
  const wanted = chat.wanted;
  chat.wanted = null;
  if (wanted !== null) {
    if (await openExisting(wanted)) {
      return;
    }
    missing = true;
  }
  const stored = storedConversation();
  if (stored !== null) {
    const result = await api("GET", urlFor(config.messagesUrl, stored) + "?after=0");
    if (result.status === 200) {
      chat.conversationId = stored;
      (result.data.messages || []).forEach((m) => addMessage(m));
      applyState(result.data);
      return;
    }
    if (result.status !== 404) {
      throw new Error(errorText(result, "The chat could not load. Please try again."));
    }
    try {
      localStorage.removeItem(chat.storageKey); // gone (deleted, or another account's): start afresh
    } catch (ignored) {
      /* nothing stored */
    }
  }
  const newest = await newestConversation();
  if (newest !== null && (await openExisting(newest))) {
    return;
  }
  await createConversation();
}

export function ensureConversation() {
  if (chat.conversationId !== null) {
    return Promise.resolve();
  }
  if (!starting) {
    starting = restoreOrCreate()
      .then(() => {
        clearError();
        if (missing) {
          showError("That conversation is no longer available.");
          missing = false;
        }
        connect();
      })
      .catch((err) => {
        showError(unreachable(err));
        throw err;
      })
      .finally(() => {
        starting = null;
      });
  }
  return starting;
}

export async function startNewConversation() {
  el.startNew.disabled = true;
  clearError();
  try {
    disconnect();
    await createConversation();
    clearLog();
    connect();
    showChat();
    el.input.focus();
  } catch (err) {
    showError(unreachable(err));
    connect();
  } finally {
    el.startNew.disabled = false;
  }
}

// Opens one of the customer's conversations (from the list, or a link) in the chat tab.
async function switchConversation(id) {
  clearError();
  showChat();
  if (chat.conversationId === id) {
    return;
  }
  if (starting) {
    await starting.catch(() => undefined);
  }
  disconnect();
  chat.conversationId = null;
  chat.wanted = id;
  await ensureConversation().catch(() => undefined);
  el.input.focus();
}

// A pick in "Recent conversations" (tickets.js draws the list).
export function bindConversationList() {
  el.conversationList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-conversation-id]");
    if (button) {
      switchConversation(Number(button.dataset.conversationId));
    }
  });
}
