/* The panel as an accessible dialog: the launcher opens and closes it, Esc closes it and returns
 * focus to the launcher, arrow keys switch tabs, and on phones (where it covers the screen) it is
 * modal and keeps the keyboard inside.
 */
import { config, el, root } from "./context.js";
import { ensureConversation } from "./conversation.js";
import { clearUnread, scrollToEnd } from "./render.js";
import { loadTickets, selectTab } from "./tickets.js";

const OPEN_KEY = "loophole.chat.open." + config.userId; // a panel left open stays open on the next page
const COVERS_SCREEN = window.matchMedia("(max-width: 480px)");

export function wasOpen() {
  try {
    return sessionStorage.getItem(OPEN_KEY) === "1";
  } catch (ignored) {
    return false;
  }
}

export function openPanel(focusInput) {
  el.panel.hidden = false;
  root.classList.add("lw-open");
  updateModal();
  el.launcher.setAttribute("aria-expanded", "true");
  clearUnread();
  try {
    sessionStorage.setItem(OPEN_KEY, "1");
  } catch (ignored) {
    /* not remembered across pages */
  }
  if (!el.viewTickets.hidden) {
    loadTickets();
  }
  if (focusInput) {
    (el.viewChat.hidden ? el.tabTickets : el.input).focus();
  }
  scrollToEnd();
  ensureConversation().then(scrollToEnd, () => undefined);
}

function closePanel() {
  el.panel.hidden = true;
  root.classList.remove("lw-open");
  updateModal();
  el.launcher.setAttribute("aria-expanded", "false");
  try {
    sessionStorage.removeItem(OPEN_KEY);
  } catch (ignored) {
    /* nothing remembered */
  }
  el.launcher.focus();
}

function isModal() {
  return !el.panel.hidden && COVERS_SCREEN.matches;
}

function updateModal() {
  if (isModal()) {
    el.panel.setAttribute("aria-modal", "true");
  } else {
    el.panel.removeAttribute("aria-modal");
  }
}

function tabStops() {
  return Array.from(el.panel.querySelectorAll("a[href], button, input, textarea, select, [tabindex]")).filter(
    (node) => !node.disabled && node.tabIndex >= 0 && node.getClientRects().length > 0
  );
}

export function bindPanel() {
  [el.tabChat, el.tabTickets].forEach((tab) => {
    tab.addEventListener("keydown", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) {
        event.preventDefault();
        const other = tab === el.tabChat ? el.tabTickets : el.tabChat;
        selectTab(event.key === "Home" ? el.tabChat : event.key === "End" ? el.tabTickets : other, true);
      }
    });
  });

  COVERS_SCREEN.addEventListener("change", updateModal);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || !isModal()) {
      return;
    }
    const stops = tabStops();
    if (!stops.length) {
      return;
    }
    const first = stops[0];
    const last = stops[stops.length - 1];
    const inside = el.panel.contains(document.activeElement);
    if (event.shiftKey && (!inside || document.activeElement === first)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
      event.preventDefault();
      first.focus();
    }
  });
  document.addEventListener("focusin", (event) => {
    if (isModal() && !el.panel.contains(event.target)) {
      const stops = tabStops();
      (stops.includes(el.input) ? el.input : stops[0] || el.panel).focus();
    }
  });

  el.launcher.addEventListener("click", () => (el.panel.hidden ? openPanel(true) : closePanel()));
  el.close.addEventListener("click", closePanel);
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !el.panel.hidden) {
      event.preventDefault();
      closePanel();
    }
  });
}
