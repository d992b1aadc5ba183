// Audits. The run page follows its run without a reload, in every open tab:
// - results arriving on the live session refresh the progress line (at most every 0.4 s) and
//   the results matrix (at most every 1.5 s), so the matrix fills in live;
// - a stop shows "Stopping…" (the `stopping` event every tab receives, or the click in this
//   tab) until the run's final state arrives; then the whole run body (#run-page) is swapped
//   for its final form: controls, matrix, what lit up, breakdown;
// - the progress line polls while a run is active or stopped with calls left; when its epoch
//   moves on (another tab resumed the run) the run body is swapped too, with the new live
//   session, which live.js starts streaming.
// "Try once now" shows PASS or FAIL in words, the grader's reason and who answered.
(() => {
  "use strict";
  const timers = {};
  const TERMINAL = new Set(["completed", "cancelled", "failed"]);

  function later(name, delay, fn) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => {
      timers[name] = null;
      fn();
    }, delay);
  }

  function trigger(selector, event) {
    const el = document.querySelector(selector);
    if (el && window.htmx) window.htmx.trigger(el, event);
  }

  function reloadRunPage() {
    const page = document.querySelector("[data-run-page]");
    if (!page || !window.htmx) return;
    later("page", 150, () =>
      window.htmx.ajax("GET", window.location.pathname, {
        target: "#run-page",
        select: "#run-page",
        swap: "outerHTML",
      }),
    );
  }

  function showStopping() {
    document.querySelectorAll("[data-run-status]").forEach((el) => {
      if (el.dataset.runStatus === "running" || el.dataset.runStatus === "pending") {
        el.textContent = "Stopping…";
        el.dataset.runStatus = "stopping";
      }
    });
    document.querySelectorAll("[data-run-stop]").forEach((button) => {
      button.disabled = true;
      button.textContent = "Stopping…";
    });
  }

  document.addEventListener("submit", (e) => {
    if (e.target.matches && e.target.matches("[data-run-stop-form]")) showStopping();
  });

  // Whatever htmx swapped: if the progress line no longer agrees with the run body (the run
  // ended, or another tab resumed it), swap the body for the run's current form.
  document.addEventListener("htmx:afterSettle", () => {
    const panel = document.querySelector("[data-run-progress]");
    const page = document.querySelector("[data-run-page]");
    if (!panel || !page) return;
    if (panel.dataset.runEpoch !== page.dataset.runEpoch ||
        panel.dataset.runActive !== page.dataset.runActive) reloadRunPage();
  });

  document.addEventListener("live:event", (e) => {
    const event = e.detail || {};
    const type = event.type;
    if (e.target.closest && e.target.closest("[data-run-page]")) {
      if (type === "result") {
        later("progress", 400, () => trigger("[data-run-progress]", "audits:refresh"));
        later("results", 1500, () => trigger("[data-run-results]", "audits:results"));
      }
      if (type === "stopping") showStopping();
      if (TERMINAL.has(type)) reloadRunPage();
    }
    if (type === "result") {
      const holder = e.target.closest(".try-output");
      const slot = holder && holder.querySelector("[data-try-grade]");
      const data = event.data || {};
      if (slot) {
        const word = { pass: "PASS", fail: "FAIL", pending: "AWAITING REVIEW", error: "ERROR" };
        slot.textContent = "";
        const verdict = document.createElement("strong");
        verdict.textContent = word[data.grade] || String(data.grade || "").toUpperCase();
        slot.append(verdict, ` — ${data.reason || ""}`);
        const meta = document.createElement("small");
        meta.className = "muted";
        meta.textContent = [
          data.resolved_model ? `Answered by ${data.resolved_model}` : "",
          data.tokens ? `${data.tokens} tokens` : "",
        ].filter(Boolean).join(" · ");
        if (meta.textContent) slot.append(document.createElement("br"), meta);
        slot.className = `try-grade grade-${data.grade}`;
      }
    }
  });
})();
