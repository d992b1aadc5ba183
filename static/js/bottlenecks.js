// Bottleneck maps: what-if sliders hold log10 speed-ups; show them as "×12.6" while dragging.
// The results themselves are recomputed on the server (htmx on the form).
(function () {
  function format(value) {
    if (!isFinite(value)) return "∞×";
    const digits = value >= 100 ? 0 : 2;
    return parseFloat(value.toFixed(digits)).toLocaleString("en") + "×";
  }
  document.addEventListener("input", (event) => {
    const input = event.target;
    if (!input.matches || !input.matches("input[type=range][data-speedup]")) return;
    const text = format(Math.pow(10, parseFloat(input.value)));
    const output = document.querySelector(`output[for="${input.id}"]`);
    if (output) output.textContent = text;
    input.setAttribute("aria-valuetext", text);
  });
})();
