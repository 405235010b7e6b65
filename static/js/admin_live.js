// Live ticket pages: the ticket page shows new messages as they arrive and follows the ticket's
// status and assignee; the ticket list tells how many tickets changed since it was loaded.
// Text a staff member is typing is never lost: with text in the reply or note box, a change is
// announced instead of reloading the page.
"use strict";

(() => {
  function notice(id) {
    let bar = document.getElementById(id);
    if (!bar) {
      bar = document.createElement("div");
      bar.id = id;
      bar.className = "loophole-live-notice";
      bar.setAttribute("role", "status");
      const content = document.getElementById("content") || document.body;
      content.prepend(bar);
    }
    bar.replaceChildren();
    return bar;
  }

  function refreshLink(text) {
    const link = document.createElement("a");
    link.href = window.location.href;
    link.textContent = text;
    return link;
  }

  function typed() {
    return [...document.querySelectorAll("textarea[name=reply], textarea[name=internal_note]")].some(
      (box) => box.value.trim() !== "",
    );
  }

  // The value a select of the form was drawn with ("" for none; null without the select).
  function drawn(name) {
    const select = document.querySelector(`select[name=${name}]`);
    if (!select) return null;
    const option = [...select.options].find((o) => o.defaultSelected);
    return option ? option.value : "";
  }

  function followTicket(transcript) {
    const url = new URL("../events/", window.location.href);
    url.searchParams.set("after", transcript.dataset.after || "0");
    const source = new EventSource(url);
    // As the page was drawn: a change made before the stream opened counts too.
    const status = drawn("status");
    const assignee = drawn("assignee");
    let shown = status === null || assignee === null ? null : { status, assignee_id: assignee };
    source.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      const item = document.createElement("li");
      const by = document.createElement("strong");
      by.textContent = message.by;
      const at = document.createElement("small");
      at.textContent = message.at;
      const text = document.createElement("div");
      text.textContent = message.text;
      item.append(by, " ", at, text);
      item.dataset.message = message.id;
      transcript.append(item);
      transcript.scrollTop = transcript.scrollHeight;
    });
    source.addEventListener("ticket", (event) => {
      const ticket = JSON.parse(event.data);
      if (shown === null) {
        shown = ticket; // a read-only page: the stream's first word is the baseline
        return;
      }
      if (ticket.status === shown.status && ticket.assignee_id === shown.assignee_id) return;
      shown = ticket;
      if (!typed()) {
        window.location.reload(); // nothing to lose: the form shows the ticket as it is now
        return;
      }
      const who = ticket.assignee ? `assigned to ${ticket.assignee}` : "unassigned";
      const bar = notice("loophole-live-ticket");
      bar.append(
        `The ticket changed: status is now ${ticket.status_label}, ${who}; your text is kept. `,
        refreshLink("Reload the ticket"),
        " once you have saved or copied it.",
      );
    });
    source.addEventListener("gone", () => {
      source.close();
      notice("loophole-live-ticket").append("This ticket has been deleted.");
    });
  }

  function followList() {
    const source = new EventSource(new URL("events/", window.location.href));
    const changed = new Set();
    source.addEventListener("changed", (event) => {
      for (const id of JSON.parse(event.data).tickets) changed.add(id);
      const count = changed.size;
      notice("loophole-live-list").append(
        `${count} ${count === 1 ? "ticket" : "tickets"} changed — `,
        refreshLink("refresh"),
      );
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const body = document.body;
    if (!body.classList.contains("model-ticket") || !window.EventSource) return;
    const transcript = document.querySelector(".loophole-transcript");
    if (body.classList.contains("change-form") && transcript) followTicket(transcript);
    else if (body.classList.contains("change-list")) followList();
  });
})();
