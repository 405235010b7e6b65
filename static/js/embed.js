/* Loophole support on the company's own product: the one <script> tag a page of an allowed origin
 * (WIDGET_ALLOWED_ORIGINS) includes,
 *
 *   <script src="https://support.example.com/static/js/embed.js" data-token="<JWT>" async></script>
 *
 * opens the chat in a frame served by the support site, and hands it the token the product's
 * server signed for its logged-in user (no token: general help only). The frame talks to the support
 * site alone; this page only sizes it.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.loopholeSupport) {
    return;
  }
  const support = new URL(script.src).origin;
  const token = script.dataset.token || "";
  const frame = document.createElement("iframe");
  window.loopholeSupport = { frame: frame };
  frame.src = support + "/chat/frame/?origin=" + encodeURIComponent(window.location.origin);
  frame.title = "Loophole support chat";
  frame.setAttribute(
    "style",
    "position:fixed;right:0;bottom:0;width:220px;height:96px;max-width:100vw;max-height:100vh;" +
      "border:0;background:transparent;color-scheme:normal;z-index:2147483000"
  );

  function size(open) {
    frame.style.width = open ? "420px" : "220px";
    frame.style.height = open ? "680px" : "96px";
  }

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.origin !== support || event.source !== frame.contentWindow || !data || typeof data !== "object") {
      return;
    }
    if (data.type === "loophole:ready") {
      frame.contentWindow.postMessage({ type: "loophole:identify", token: token }, support);
    } else if (data.type === "loophole:open") {
      size(Boolean(data.open));
    }
  });

  if (document.body) {
    document.body.appendChild(frame);
  } else {
    document.addEventListener("DOMContentLoaded", () => document.body.appendChild(frame));
  }
})();
