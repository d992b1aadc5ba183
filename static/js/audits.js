// Audits: the run page refreshes its progress panel when results arrive on the live session
// (and its controls and results matrix when the run ends), and "try once now" shows the grade
// when the result event arrives.
(() => {
  "use strict";
  let timer = null;
  function refreshProgress() {
    const panel = document.querySelector("[data-run-progress]");
    if (!panel || !window.htmx || timer) return;
    timer = setTimeout(() => {
      timer = null;
      const current = document.querySelector("[data-run-progress]");
      if (current) window.htmx.trigger(current, "audits:refresh");
    }, 400);
  }
  document.addEventListener("live:event", (e) => {
    const event = e.detail || {};
    const type = event.type;
    if (type === "result" || type === "completed" || type === "cancelled" || type === "failed") {
      refreshProgress();
    }
    if (type === "completed" || type === "cancelled" || type === "failed") {
      // the run has its final state: show its controls, matrix and lit-up ideas, no reload
      document.querySelectorAll("[data-run-controls], [data-run-results]").forEach((el) => {
        if (window.htmx) window.htmx.trigger(el, "audits:finished");
      });
    }
    if (type === "result") {
      const holder = e.target.closest(".try-output");
      const slot = holder && holder.querySelector("[data-try-grade]");
      if (slot && event.data) {
        slot.textContent = `Grade: ${event.data.grade}` +
          (event.data.resolved_model ? ` · answered by ${event.data.resolved_model}` : "") +
          (event.data.tokens ? ` · ${event.data.tokens} tokens` : "");
        slot.className = `try-grade grade grade-${event.data.grade}`;
      }
    }
  });
})();
