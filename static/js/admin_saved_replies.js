// The ticket page's saved-reply picker: puts the chosen reply, filled in by the server for this
// ticket, into the reply box at the cursor (replacing any selection).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select.loophole-saved-reply")) {
    const data = document.getElementById(select.dataset.texts);
    const reply = document.getElementById(select.dataset.target);
    if (!data || !reply) continue;
    const texts = JSON.parse(data.textContent);
    select.addEventListener("change", () => {
      const text = texts[select.value];
      if (text === undefined) return;
      reply.setRangeText(text, reply.selectionStart, reply.selectionEnd, "end");
      reply.dispatchEvent(new Event("input", { bubbles: true }));
      select.value = "";
      reply.focus();
    });
  }
});
