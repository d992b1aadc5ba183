// Small progressive enhancements shared by every page.
document.addEventListener("click", (event) => {
  const input = event.target.closest("input.invite-link");
  if (input) input.select();
});
// Let htmx swap 4xx form responses so validation errors show next to the fields.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 400 || status === 422 || status === 409) {
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
