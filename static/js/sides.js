// "Find the missing side" (planning/facilitator/templates/facilitator/sides.html): each bet's
// part streams into its own labelled output of the live session. A part the model interrupted
// starts again (an `error` event with `restart` and its stream): its output is cleared. When
// the session ends, the panel reloads (htmx) with the proposals to accept, edit or discard.
(function () {
  "use strict";
  const TERMINAL = ["completed", "cancelled", "failed"];
  document.addEventListener("live:event", function (e) {
    const detail = e.detail || {};
    if (!e.target.closest) return;
    const panel = e.target.closest("[data-sides-panel]");
    if (!panel) return;
    const data = detail.data || {};
    if (detail.type === "error" && data.restart && data.stream) {
      e.target.querySelectorAll("[data-live-stream]").forEach(function (el) {
        if (el.dataset.liveStream === data.stream) el.textContent = "";
      });
    }
    if (TERMINAL.indexOf(detail.type) !== -1 && window.htmx) window.htmx.trigger(panel, "sides-done");
  });
})();
