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
