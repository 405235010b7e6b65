/* Embedded in another site (static/js/embed.js opens this page in a frame): the host page hands
 * over its user's identity token, and is told when the panel opens or closes so that it can size
 * the frame. A refused token leaves general help only.
 */
import { api, errorText } from "./api.js";
import { chat, config, el, root } from "./context.js";

export function tellHost(message) {
  if (config.embedOrigin) {
    window.parent.postMessage(message, config.embedOrigin);
  }
}

function generalHelpOnly(reason) {
  el.form.hidden = true;
  el.tabTickets.hidden = true;
  const note = document.createElement("div");
  note.className = "lw-msg lw-msg-system";
  const text = document.createElement("p");
  text.className = "lw-text";
  const link = document.createElement("a");
  link.href = config.helpUrl;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "help centre";
  text.append("Chat needs you to be signed in to the product. " + reason + " Meanwhile, the ", link, " answers common questions.");
  note.appendChild(text);
  el.log.appendChild(note);
}

// The page around the frame hands over its user's token (embed.js); only that page may.
function identifyWithHost() {
  return new Promise((resolve, reject) => {
    let asked = false;
    window.addEventListener("message", async (event) => {
      const data = event.data;
      if (asked || event.source !== window.parent || event.origin !== config.embedOrigin || !data || data.type !== "loophole:identify") {
        return;
      }
      asked = true;
      let result = null;
      try {
        const token = typeof data.token === "string" ? data.token : "";
        result = await api("POST", config.identifyUrl, { token: token }, undefined, { "X-Widget-Origin": config.embedProof });
      } catch (ignored) {
        result = null;
      }
      if (result && result.status === 200 && result.data.customer) {
        chat.storageKey = "loophole.chat.conversation." + String(result.data.customer.email);
        resolve();
        return;
      }
      const reason = result ? errorText(result, "The product did not say who you are.") : "We couldn't reach Loophole.";
      generalHelpOnly(reason);
      reject(new Error(reason));
    });
    tellHost({ type: "loophole:ready" });
  });
}

// After bindPanel(): these listeners read the panel as its own listeners left it.
export function bindHost() {
  chat.identity = identifyWithHost();
  chat.identity.catch(() => undefined);
  el.launcher.addEventListener("click", () => tellHost({ type: "loophole:open", open: !el.panel.hidden }));
  el.close.addEventListener("click", () => tellHost({ type: "loophole:open", open: false }));
  root.addEventListener("keydown", (event) => event.key === "Escape" && tellHost({ type: "loophole:open", open: false }));
}
