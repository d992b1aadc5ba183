// Small progressive enhancements shared by every page.
document.addEventListener("click", (event) => {
  const input = event.target.closest("input.invite-link");
  if (input) input.select();
});
// Let htmx swap 4xx form responses so validation errors (and "wait a minute") show in place.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 400 || status === 422 || status === 409 || status === 429) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// The header menu on narrow screens: a button toggles it, Escape closes it.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".menu-toggle");
  if (!toggle) return;
  const menu = document.getElementById(toggle.getAttribute("aria-controls"));
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  menu.classList.toggle("open", open);
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const toggle = document.querySelector('.menu-toggle[aria-expanded="true"]');
  if (!toggle) return;
  toggle.setAttribute("aria-expanded", "false");
  document.getElementById(toggle.getAttribute("aria-controls")).classList.remove("open");
  toggle.focus();
});
// A table that scrolls inside itself (narrow screens) can be scrolled from the keyboard.
function focusableScrollers(root) {
  (root || document).querySelectorAll("main table").forEach((table) => {
    if (table.scrollWidth > table.clientWidth + 1) table.tabIndex = 0;
    else if (table.tabIndex === 0 && !table.hasAttribute("data-keep-tabindex")) table.removeAttribute("tabindex");
  });
}
document.addEventListener("DOMContentLoaded", () => focusableScrollers(document));
document.addEventListener("htmx:afterSettle", () => focusableScrollers(document));
window.addEventListener("resize", () => focusableScrollers(document));
// A new team's time zone defaults to the browser's own, when the list has it.
document.addEventListener("DOMContentLoaded", () => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("select[data-browser-timezone]").forEach((select) => {
    if (zone && [...select.options].some((o) => o.value === zone)) select.value = zone;
  });
});
// Irreversible actions ask first, in a dialog that says what becomes permanent: forms with
// data-confirm (plain submits) and htmx requests with hx-confirm.
function askToConfirm({ title, message, ok }) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || !dialog.showModal) return Promise.resolve(window.confirm(message));
  dialog.querySelector("#confirm-title").textContent = title || "Are you sure?";
  dialog.querySelector("#confirm-message").textContent = message;
  dialog.querySelector("#confirm-ok").textContent = ok || "Confirm";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-confirm]") || form.dataset.confirmed === "1") return;
  event.preventDefault();
  const submitter = event.submitter;
  askToConfirm({ title: form.dataset.confirmTitle, message: form.dataset.confirm, ok: form.dataset.confirmOk })
    .then((yes) => {
      if (!yes) return;
      form.dataset.confirmed = "1";
      form.requestSubmit(submitter || undefined);
    });
});
document.addEventListener("htmx:confirm", (event) => {
  if (!event.detail.question) return;
  event.preventDefault();
  const el = event.detail.elt;
  askToConfirm({ title: el.dataset.confirmTitle, message: event.detail.question, ok: el.dataset.confirmOk })
    .then((yes) => yes && event.detail.issueRequest(true));
});
