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
