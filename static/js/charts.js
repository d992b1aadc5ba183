// Draws every .plotly-chart element from its data-figure JSON, on load and after htmx swaps.
// plotly.js is served locally and loaded only on pages that have a chart.
(function () {
  let loading = null;
  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
      loading = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = document.body.dataset.plotlySrc;
        s.onload = () => resolve(window.Plotly);
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return loading;
  }
  function draw(root) {
    const charts = (root || document).querySelectorAll(".plotly-chart[data-figure]");
    if (!charts.length) return;
    loadPlotly().then((Plotly) => {
      charts.forEach((el) => {
        const fig = JSON.parse(el.dataset.figure);
        const config = Object.assign({ responsive: true, displaylogo: false }, fig.config || {});
        Plotly.react(el, fig.data || [], fig.layout || {}, config);
        el.dataset.drawn = "1";
        el.dispatchEvent(new CustomEvent("chart:drawn", { bubbles: true }));
      });
    });
  }
  document.addEventListener("DOMContentLoaded", () => draw(document));
  document.addEventListener("htmx:afterSettle", (e) => draw(e.target));
  window.ExponentCharts = { draw };
})();
