// Drag-and-drop ranking of the review backlog. Each drop posts {moved, before} through htmx,
// which swaps the re-ranked list; the ↑ buttons do the same without a mouse.
(function () {
  let dragged = null;
  function list() { return document.querySelector(".backlog-list"); }
  document.addEventListener("dragstart", (e) => {
    const item = e.target.closest && e.target.closest(".backlog-item[draggable=true]");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", item.dataset.id);
  });
  document.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("dragging");
    document.querySelectorAll(".drop-before").forEach((el) => el.classList.remove("drop-before"));
    dragged = null;
  });
  document.addEventListener("dragover", (e) => {
    const over = e.target.closest && e.target.closest(".backlog-item");
    if (!dragged || !over || over === dragged) return;
    e.preventDefault();
    document.querySelectorAll(".drop-before").forEach((el) => el.classList.remove("drop-before"));
    over.classList.add("drop-before");
  });
  document.addEventListener("drop", (e) => {
    const over = e.target.closest && e.target.closest(".backlog-item");
    if (!dragged || !over) return;
    e.preventDefault();
    const ol = list();
    window.htmx.ajax("POST", ol.dataset.moveUrl, {
      target: "#backlog",
      swap: "outerHTML",
      values: { moved: dragged.dataset.id, before: over === dragged ? "" : over.dataset.id },
    });
  });
})();
// Keyboard ranking: after ↑/↓ re-renders the list, focus returns to the item that moved
// (its button in the same direction, else the other one), so Enter can be pressed again.
(function () {
  let moving = null;
  document.addEventListener("htmx:beforeRequest", (e) => {
    const button = e.target.closest && e.target.closest(".move-buttons button[data-item]");
    moving = button ? { item: button.dataset.item, dir: button.dataset.dir } : null;
  });
  document.addEventListener("htmx:afterSettle", (e) => {
    if (!moving || !e.target.closest || !e.target.closest("#backlog")) return;
    const item = document.querySelector(`.backlog-item[data-id="${moving.item}"]`);
    const target = item && (item.querySelector(`button[data-dir="${moving.dir}"]`) ||
      item.querySelector(".move-buttons button"));
    if (target) target.focus();
    moving = null;
  });
})();
document.addEventListener("click", (e) => {
  if (e.target.closest("[data-print]")) {
    e.preventDefault();
    window.print();
  }
});
