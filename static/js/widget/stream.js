/* Live updates of the open conversation: server-sent events from …/events/, long polling of
 * …/poll/ when those keep failing, and a rest while the tab is hidden.
 */
import { api, errorText } from "./api.js";
import { applyState } from "./card.js";
import { chat, config, showError, sleep, urlFor } from "./context.js";
import { addMessage } from "./render.js";

const SSE_MAX_FAILURES = 3; // then fall back to long polling
const SSE_WATCHDOG_MS = 10000; // a stream that delivers nothing this long after opening is broken (buffering proxy)
const LONG_POLL_WAIT = 25;
const HIDDEN_GRACE_MS = 60000; // close the stream once the tab has been hidden this long

const live = {
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
};

export function connect() {
  if (chat.conversationId === null || live.connected) {
    return;
  }
  live.connected = true;
  live.sleeping = false;
  const generation = live.generation;
  if (live.mode === "sse" && window.EventSource) {
    openStream(generation);
  } else {
    pollLoop(generation);
  }
}

export function disconnect() {
  live.generation += 1;
  live.connected = false;
  clearTimeout(live.sseRetryTimer);
  clearTimeout(live.watchdog);
  if (live.source) {
    live.source.close();
    live.source = null;
  }
  if (live.pollAbort) {
    live.pollAbort.abort();
    live.pollAbort = null;
  }
}

function openStream(generation) {
  if (generation !== live.generation) {
    return;
  }
  // ?after= covers the first connection; the browser's own reconnects also send Last-Event-ID.
  const source = new EventSource(urlFor(config.eventsUrl, chat.conversationId) + "?after=" + chat.lastId);
  live.source = source;
  const alive = () => {
    live.sseFailures = 0;
    clearTimeout(live.watchdog);
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
    clearTimeout(live.watchdog);
    // The server sends the state right after opening: silence means something is buffering the stream.
    live.watchdog = setTimeout(() => streamFailed(source, generation, true), SSE_WATCHDOG_MS);
  });
  source.addEventListener("error", () => streamFailed(source, generation, false));
}

function streamFailed(source, generation, force) {
  if (generation !== live.generation || source !== live.source) {
    return;
  }
  live.sseFailures += 1;
  clearTimeout(live.watchdog);
  if (live.sseFailures >= SSE_MAX_FAILURES) {
    source.close();
    live.source = null;
    live.mode = "poll"; // for the rest of this page: long polling goes through where events don't
    pollLoop(generation);
    return;
  }
  if (force || source.readyState === EventSource.CLOSED) {
    source.close();
    live.source = null;
    const delay = 1000 * live.sseFailures;
    live.sseRetryTimer = setTimeout(() => openStream(generation), delay);
  }
  // Otherwise the browser reconnects by itself, resuming with Last-Event-ID.
}

async function pollLoop(generation) {
  let backoff = 1000;
  while (generation === live.generation) {
    const controller = new AbortController();
    live.pollAbort = controller;
    const timer = setTimeout(() => controller.abort(), (LONG_POLL_WAIT + 15) * 1000);
    try {
      const url = urlFor(config.pollUrl, chat.conversationId) + "?after=" + chat.lastId + "&wait=" + LONG_POLL_WAIT;
      const result = await api("GET", url, undefined, controller.signal);
      if (generation !== live.generation) {
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
        live.connected = false;
        return;
      }
    } catch (ignored) {
      if (generation !== live.generation) {
        return;
      }
    } finally {
      clearTimeout(timer);
    }
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 30000);
  }
}

export function bindVisibility() {
  document.addEventListener("visibilitychange", () => {
    clearTimeout(live.hiddenTimer);
    if (document.hidden) {
      live.hiddenTimer = setTimeout(() => {
        if (document.hidden && live.connected) {
          disconnect();
          live.sleeping = true;
        }
      }, HIDDEN_GRACE_MS);
    } else if (live.sleeping) {
      connect(); // resumes after the last message seen
    }
  });
}
