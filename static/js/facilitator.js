// The facilitator's draft panel: when its live session ends, reload the panel (htmx) so the
// finished draft appears with its citations resolved.
(function () {
  "use strict";
  const TERMINAL = ["completed", "cancelled", "failed"];
  document.addEventListener("live:event", function (e) {
    const type = e.detail && e.detail.type;
    if (TERMINAL.indexOf(type) === -1 || !e.target.closest) return;
    const panel = e.target.closest("[data-draft-panel]");
    if (panel && window.htmx) window.htmx.trigger(panel, "draft-done");
  });
  // A revision asked for after the end (the live steer view answers HX-Trigger:
  // live-follow-up): reload the panel, which then follows the revision's live session.
  document.addEventListener("live-follow-up", function (e) {
    const panel = e.target.closest && e.target.closest("[data-draft-panel]");
    if (panel && window.htmx) window.htmx.trigger(panel, "draft-done");
  });
})();
