/* The JSON endpoints under /chat/: session cookie and Django's CSRF token, {"error"} answers. */
import { chat, config, el, sleep, urlFor } from "./context.js";

const SEND_ATTEMPTS = 5;

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) {
    return decodeURIComponent(match[1]);
  }
  const field = el.form.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

function randomId() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function api(method, url, body, signal, extraHeaders) {
  const headers = Object.assign({ Accept: "application/json" }, extraHeaders);
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken();
  }
  const response = await fetch(url, {
    method: method,
    headers: headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
    signal: signal,
  });
  let data = null;
  try {
    data = await response.json();
  } catch (ignored) {
    data = null;
  }
  return { status: response.status, data: data || {} };
}

export function errorText(result, fallback) {
  if (result && result.data && typeof result.data.error === "string" && result.data.error) {
    return result.data.error;
  }
  if (result && result.status === 401) {
    return "Your session has ended. Please log in again to chat.";
  }
  return fallback;
}

// One client_id per message: a retry after a network error or a 5xx cannot store it twice.
export async function postMessage(body) {
  const payload = Object.assign({ client_id: randomId() }, body);
  const url = urlFor(config.messagesUrl, chat.conversationId);
  let delay = 800;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const result = await api("POST", url, payload);
      if (result.status < 500 || attempt >= SEND_ATTEMPTS) {
        return result;
      }
    } catch (err) {
      if (attempt >= SEND_ATTEMPTS) {
        throw err;
      }
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 8000);
  }
}
