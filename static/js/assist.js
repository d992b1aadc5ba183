// The Claude assists (probes from an idea, a critique of a rationale): when the generation's
// live session ends, reload its panel (htmx) so the parsed result appears. Only the session
// inside [data-assist-live] reloads the panel; a "Try once" inside it does not.
(function () {
  "use strict";
  const TERMINAL = ["completed", "cancelled", "failed"];
  document.addEventListener("live:event", function (e) {
    const type = e.detail && e.detail.type;
    if (TERMINAL.indexOf(type) === -1 || !e.target.closest) return;
    if (!e.target.closest("[data-assist-live]")) return;
    const panel = e.target.closest("[data-assist-panel]");
    if (panel && window.htmx) window.htmx.trigger(panel, "assist-done");
  });
})();
