/* Loophole live chat: enhances the launcher <button> and the chat <form> rendered by base.html.
 *
 * Talks to the JSON endpoints under /chat/ (URLs come from data-* attributes), receives new
 * messages over server-sent events (long polling when those keep failing), and writes every
 * piece of text with textContent: message text is never parsed as HTML.
 */
(function () {
  "use strict";

  const root = document.getElementById("lw");
  if (!root || !window.fetch || !window.JSON) {
    return;
  }

  const $ = (id) => document.getElementById(id);
  const el = {
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

  const config = {
    userId: root.dataset.userId,
    conversationsUrl: root.dataset.conversationsUrl,
    messagesUrl: root.dataset.messagesUrl,
    eventsUrl: root.dataset.eventsUrl,
    pollUrl: root.dataset.pollUrl,
    ticketsUrl: root.dataset.ticketsUrl,
    // Set in the frame another site embeds (static/js/embed.js): the host page's origin, our signed
    // proof of it, and where its user's identity token is exchanged.
    embedOrigin: root.dataset.embedOrigin || "",
    embedProof: root.dataset.embedProof || "",
    identifyUrl: root.dataset.identifyUrl || "",
    helpUrl: root.dataset.helpUrl || "/help/",
  };
  let STORAGE_KEY = "loophole.chat.conversation." + config.userId;
  const OPEN_KEY = "loophole.chat.open." + config.userId;
  const AUTHORS = { customer: "You", assistant: "Loophole AI", staff: "Loophole team", system: "Loophole" };
  const SSE_MAX_FAILURES = 3; // then fall back to long polling
  const SSE_WATCHDOG_MS = 10000; // a stream that delivers nothing this long after opening is broken (buffering proxy)
  const LONG_POLL_WAIT = 25;
  const HIDDEN_GRACE_MS = 60000; // close the stream once the tab has been hidden this long
  const TYPING_TIMEOUT_MS = 60000;
  const SEND_ATTEMPTS = 5;

  const S = {
    conversationId: null,
    starting: null, // the promise of the conversation being restored or created
    lastId: 0,
    lastReplyId: 0,
    seen: new Set(),
    state: null,
    ticket: null,
    awaitingReplyTo: null,
    typingTimer: null,
    generation: 0, // bumped on every disconnect: stale loops and streams stop
    source: null,
    mode: "sse",
    sseFailures: 0,
    sseRetryTimer: null,
    watchdog: null,
    pollAbort: null,
    connected: false,
    sleeping: false,
    hiddenTimer: null,
    unread: 0,
    identity: Promise.resolve(), // embedded: settles once the host's token is exchanged
    wanted: null, // a conversation to open (a link, or picked from the list)
    missing: false,
  };

  // --- small helpers -------------------------------------------------------------------------

  function urlFor(template, id) {
    return template.replace("/0/", "/" + encodeURIComponent(String(id)) + "/");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

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

  async function api(method, url, body, signal, extraHeaders) {
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

  function errorText(result, fallback) {
    if (result && result.data && typeof result.data.error === "string" && result.data.error) {
      return result.data.error;
    }
    if (result && result.status === 401) {
      return "Your session has ended. Please log in again to chat.";
    }
    return fallback;
  }

  function showError(text) {
    el.alert.textContent = text;
    el.alert.classList.add("lw-alert-shown");
  }

  function clearError() {
    el.alert.textContent = "";
    el.alert.classList.remove("lw-alert-shown");
  }

  function formatTime(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  }

  function formatDate(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
  }

  function timeElement(iso, text) {
    const time = document.createElement("time");
    time.dateTime = iso;
    time.textContent = text;
    return time;
  }

  // Text with http(s) URLs turned into links; everything else stays a text node.
  const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;

  function appendLinkified(parent, text) {
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

  // --- the message log -----------------------------------------------------------------------

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

  function nearBottom() {
    return el.scroll.scrollHeight - el.scroll.scrollTop - el.scroll.clientHeight < 80;
  }

  function scrollToEnd() {
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

  function addPending(text) {
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

  function failPending(item) {
    item.classList.add("lw-failed");
    const state = item.querySelector(".lw-state");
    if (state) {
      state.textContent = "Not sent";
    }
  }

  function addMessage(message, pendingItem) {
    if (!message || typeof message.id !== "number") {
      return;
    }
    const stick = nearBottom();
    if (S.seen.has(message.id)) {
      if (pendingItem && pendingItem.isConnected && !pendingItem.dataset.id) {
        pendingItem.remove(); // the stream delivered it first
      }
      return;
    }
    S.seen.add(message.id);
    S.lastId = Math.max(S.lastId, message.id);
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
      S.lastReplyId = Math.max(S.lastReplyId, message.id);
      if (S.awaitingReplyTo !== null && message.id > S.awaitingReplyTo) {
        hideTyping();
      }
      if (el.panel.hidden) {
        S.unread += 1;
        renderUnread();
      }
    }
    if (stick || message.author === "customer") {
      scrollToEnd();
    }
  }

  function clearLog() {
    el.log.replaceChildren();
    S.seen = new Set();
    S.lastId = 0;
    S.lastReplyId = 0;
    hideTyping();
  }

  function renderUnread() {
    el.unread.hidden = S.unread === 0;
    el.unread.textContent = S.unread > 9 ? "9+" : String(S.unread);
    el.launcher.setAttribute("aria-label", S.unread ? "Chat with us, " + S.unread + " new" : "Chat with us");
    if (!S.unread) {
      el.launcher.removeAttribute("aria-label");
    }
  }

  // --- typing indicator ----------------------------------------------------------------------

  function handedOff() {
    return S.state === "handed_off" || S.state === "closed" || Boolean(S.ticket);
  }

  function showTyping() {
    if (handedOff()) {
      return;
    }
    el.typing.hidden = false;
    clearTimeout(S.typingTimer);
    S.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollToEnd();
  }

  function hideTyping() {
    el.typing.hidden = true;
    S.awaitingReplyTo = null;
    clearTimeout(S.typingTimer);
  }

  function awaitReplyTo(messageId) {
    if (handedOff() || S.lastReplyId > messageId) {
      hideTyping(); // handed off, or the reply was pushed before the POST answered
      return;
    }
    S.awaitingReplyTo = messageId;
  }

  // --- conversation state: offer, ticket card, hand-off ----------------------------------------

  function applyState(data) {
    if (!data || typeof data.state !== "string") {
      return;
    }
    const stick = nearBottom();
    const previousStatus = S.ticket ? S.ticket.status : null;
    S.state = data.state;
    S.ticket = data.ticket || null;
    el.offer.hidden = S.state !== "ticket_offered";
    el.yes.disabled = el.no.disabled = false;
    const ticket = S.ticket;
    el.card.hidden = !ticket;
    if (ticket) {
      el.cardRef.textContent = "Ticket " + (ticket.reference || ticket.id);
      el.cardStatus.textContent = ticket.status_label || ticket.status;
      el.cardStatus.className = "lw-status lw-status-" + String(ticket.status).replace(/[^a-z_]/g, "");
      el.cardTitle.textContent = ticket.title || "";
    }
    const closed = S.state === "closed";
    el.handoff.hidden = !(handedOff());
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

  // --- restoring or starting a conversation ----------------------------------------------------

  function rememberConversation(id) {
    S.conversationId = id;
    try {
      localStorage.setItem(STORAGE_KEY, String(id));
    } catch (ignored) {
      /* private mode: the conversation lasts for this page only */
    }
  }

  function storedConversation() {
    try {
      const value = Number(localStorage.getItem(STORAGE_KEY));
      return Number.isInteger(value) && value > 0 ? value : null;
    } catch (ignored) {
      return null;
    }
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
    await S.identity;
    const wanted = S.wanted;
    S.wanted = null;
    if (wanted !== null) {
      if (await openExisting(wanted)) {
        return;
      }
      S.missing = true;
    }
    const stored = storedConversation();
    if (stored !== null) {
      const result = await api("GET", urlFor(config.messagesUrl, stored) + "?after=0");
      if (result.status === 200) {
        S.conversationId = stored;
        (result.data.messages || []).forEach((m) => addMessage(m));
        applyState(result.data);
        return;
      }
      if (result.status !== 404) {
        throw new Error(errorText(result, "The chat could not load. Please try again."));
      }
      try {
        localStorage.removeItem(STORAGE_KEY); // gone (deleted, or another account's): start afresh
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

  function ensureConversation() {
    if (S.conversationId !== null) {
      return Promise.resolve();
    }
    if (!S.starting) {
      S.starting = restoreOrCreate()
        .then(() => {
          clearError();
          if (S.missing) {
            showError("That conversation is no longer available.");
            S.missing = false;
          }
          connect();
        })
        .catch((err) => {
          showError(err instanceof TypeError ? "We couldn't reach Loophole. Check your connection." : err.message);
          throw err;
        })
        .finally(() => {
          S.starting = null;
        });
    }
    return S.starting;
  }

  async function startNewConversation() {
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
      showError(err instanceof TypeError ? "We couldn't reach Loophole. Check your connection." : err.message);
      connect();
    } finally {
      el.startNew.disabled = false;
    }
  }

  // Opens one of the customer's conversations (from the list, or a link) in the chat tab.
  async function switchConversation(id) {
    clearError();
    showChat();
    if (S.conversationId === id) {
      return;
    }
    if (S.starting) {
      await S.starting.catch(() => undefined);
    }
    disconnect();
    S.conversationId = null;
    S.wanted = id;
    await ensureConversation().catch(() => undefined);
    el.input.focus();
  }

  // --- live updates: server-sent events, long polling as the fallback ----------------------------

  function connect() {
    if (S.conversationId === null || S.connected) {
      return;
    }
    S.connected = true;
    S.sleeping = false;
    const generation = S.generation;
    if (S.mode === "sse" && window.EventSource) {
      openStream(generation);
    } else {
      pollLoop(generation);
    }
  }

  function disconnect() {
    S.generation += 1;
    S.connected = false;
    clearTimeout(S.sseRetryTimer);
    clearTimeout(S.watchdog);
    if (S.source) {
      S.source.close();
      S.source = null;
    }
    if (S.pollAbort) {
      S.pollAbort.abort();
      S.pollAbort = null;
    }
  }

  function openStream(generation) {
    if (generation !== S.generation) {
      return;
    }
    // ?after= covers the first connection; the browser's own reconnects also send Last-Event-ID.
    const source = new EventSource(urlFor(config.eventsUrl, S.conversationId) + "?after=" + S.lastId);
    S.source = source;
    const alive = () => {
      S.sseFailures = 0;
      clearTimeout(S.watchdog);
    };
    source.addEventListener("message", (event) => {
      alive();
      try {
        addMessage(JSON.parse(event.data));
      } catch (ignored) {
        /* a malformed event: the next snapshot repairs the view */
      }
    });
    source.addEventListener("state", (event) => {
      alive();
      try {
        applyState(JSON.parse(event.data));
      } catch (ignored) {
        /* as above */
      }
    });
    source.addEventListener("open", () => {
      clearTimeout(S.watchdog);
      // The server sends the state right after opening: silence means something is buffering the stream.
      S.watchdog = setTimeout(() => streamFailed(source, generation, true), SSE_WATCHDOG_MS);
    });
    source.addEventListener("error", () => streamFailed(source, generation, false));
  }

  function streamFailed(source, generation, force) {
    if (generation !== S.generation || source !== S.source) {
      return;
    }
    S.sseFailures += 1;
    clearTimeout(S.watchdog);
    if (S.sseFailures >= SSE_MAX_FAILURES) {
      source.close();
      S.source = null;
      S.mode = "poll"; // for the rest of this page: long polling goes through where events don't
      pollLoop(generation);
      return;
    }
    if (force || source.readyState === EventSource.CLOSED) {
      source.close();
      S.source = null;
      const delay = 1000 * S.sseFailures;
      S.sseRetryTimer = setTimeout(() => openStream(generation), delay);
    }
    // Otherwise the browser reconnects by itself, resuming with Last-Event-ID.
  }

  async function pollLoop(generation) {
    let backoff = 1000;
    while (generation === S.generation) {
      const controller = new AbortController();
      S.pollAbort = controller;
      const timer = setTimeout(() => controller.abort(), (LONG_POLL_WAIT + 15) * 1000);
      try {
        const url = urlFor(config.pollUrl, S.conversationId) + "?after=" + S.lastId + "&wait=" + LONG_POLL_WAIT;
        const result = await api("GET", url, undefined, controller.signal);
        if (generation !== S.generation) {
          return;
        }
        if (result.status === 200) {
          (result.data.messages || []).forEach((m) => addMessage(m));
          applyState(result.data);
          backoff = 1000;
          continue;
        }
        if (result.status === 401 || result.status === 404) {
          showError(errorText(result, "This conversation is no longer available."));
          S.connected = false;
          return;
        }
      } catch (ignored) {
        if (generation !== S.generation) {
          return;
        }
      } finally {
        clearTimeout(timer);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 30000);
    }
  }

  document.addEventListener("visibilitychange", () => {
    clearTimeout(S.hiddenTimer);
    if (document.hidden) {
      S.hiddenTimer = setTimeout(() => {
        if (document.hidden && S.connected) {
          disconnect();
          S.sleeping = true;
        }
      }, HIDDEN_GRACE_MS);
    } else if (S.sleeping) {
      connect(); // resumes after the last message seen
    }
  });

  // --- sending ---------------------------------------------------------------------------------

  // One client_id per message: a retry after a network error cannot store it twice.
  async function postMessage(body) {
    const payload = Object.assign({ client_id: randomId() }, body);
    const url = urlFor(config.messagesUrl, S.conversationId);
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

  async function send(body, shownText) {
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
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
      event.preventDefault();
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = Math.min(el.input.scrollHeight, 140) + "px";
  }
  el.input.addEventListener("input", autosize);

  function confirmOffer(answer) {
    el.yes.disabled = el.no.disabled = true;
    el.offer.hidden = true;
    el.input.focus();
    send({ confirm: answer }, answer ? "Yes" : "No").then((sent) => {
      if (!sent && S.state === "ticket_offered") {
        el.offer.hidden = false;
        el.yes.disabled = el.no.disabled = false;
      }
    });
  }
  el.yes.addEventListener("click", () => confirmOffer(true));
  el.no.addEventListener("click", () => confirmOffer(false));
  el.startNew.addEventListener("click", startNewConversation);

  // --- "My tickets" ----------------------------------------------------------------------------

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

  // "Recent conversations": the server's list, so that any device reopens any of them.
  function conversationItem(conversation) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lw-conversation";
    if (conversation.id === S.conversationId) {
      button.setAttribute("aria-current", "true");
    }
    const head = document.createElement("span");
    head.className = "lw-ticket-when";
    head.append(timeElement(conversation.last_message_at, formatDate(conversation.last_message_at)));
    if (conversation.ticket) {
      head.append(" · Ticket " + (conversation.ticket.reference || conversation.ticket.id) + " · " + (conversation.ticket.status_label || conversation.ticket.status));
    }
    const last = document.createElement("span");
    last.className = "lw-conversation-last";
    const text = conversation.last_message ? String(conversation.last_message.text || "") : "No messages yet";
    last.textContent = text.length > 90 ? text.slice(0, 89) + "…" : text;
    button.append(head, last);
    button.addEventListener("click", () => switchConversation(conversation.id));
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

  let ticketsRequest = 0;
  async function loadTickets() {
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

  // --- panel, tabs and keyboard ----------------------------------------------------------------

  function selectTab(tab, focus) {
    const chat = tab === el.tabChat;
    el.tabChat.setAttribute("aria-selected", String(chat));
    el.tabTickets.setAttribute("aria-selected", String(!chat));
    el.tabChat.tabIndex = chat ? 0 : -1;
    el.tabTickets.tabIndex = chat ? -1 : 0;
    el.viewChat.hidden = !chat;
    el.viewTickets.hidden = chat;
    if (!chat) {
      loadTickets();
    }
    if (focus) {
      tab.focus();
    }
  }

  function showChat() {
    if (el.viewChat.hidden) {
      selectTab(el.tabChat, false);
    }
  }

  el.tabChat.addEventListener("click", () => selectTab(el.tabChat, false));
  el.tabTickets.addEventListener("click", () => selectTab(el.tabTickets, false));
  [el.tabChat, el.tabTickets].forEach((tab) => {
    tab.addEventListener("keydown", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) {
        event.preventDefault();
        const next = event.key === "Home" ? el.tabChat : event.key === "End" ? el.tabTickets : tab === el.tabChat ? el.tabTickets : el.tabChat;
        selectTab(next, true);
      }
    });
  });

  function openPanel(focusInput) {
    el.panel.hidden = false;
    root.classList.add("lw-open");
    updateModal();
    el.launcher.setAttribute("aria-expanded", "true");
    S.unread = 0;
    renderUnread();
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

  // Where the open panel covers the whole screen (phones) it is a modal dialog: the keyboard stays
  // inside it, since the page behind cannot be seen.
  const COVERS_SCREEN = window.matchMedia("(max-width: 480px)");

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

  // --- embedded in another site: the host product's user, or general help only -------------------

  function tellHost(message) {
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
          STORAGE_KEY = "loophole.chat.conversation." + String(result.data.customer.email);
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

  if (config.embedOrigin) {
    S.identity = identifyWithHost();
    S.identity.catch(() => undefined);
    el.launcher.addEventListener("click", () => tellHost({ type: "loophole:open", open: !el.panel.hidden }));
    el.close.addEventListener("click", () => tellHost({ type: "loophole:open", open: false }));
    root.addEventListener("keydown", (event) => event.key === "Escape" && tellHost({ type: "loophole:open", open: false }));
  } else {
    // A link to one conversation (channels_io.chat.conversation_link): /#conversation=<id>.
    const linked = /^#conversation=(\d{1,18})$/.exec(window.location.hash);
    if (linked) {
      S.wanted = Number(linked[1]);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  root.hidden = false;
  let reopen = S.wanted !== null;
  try {
    reopen = reopen || sessionStorage.getItem(OPEN_KEY) === "1";
  } catch (ignored) {
    reopen = false;
  }
  if (reopen) {
    openPanel(false); // it was open on the previous page (or a link asks): keep it open, without stealing focus
    tellHost({ type: "loophole:open", open: true });
  }
})();
