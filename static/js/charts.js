// Draws each dashboard chart from the JSON the page embeds; the table below each chart
// holds the same figures for readers without JavaScript.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var palette = ["#1d4f91", "#1f6b3a", "#a12622", "#b45309", "#6b4fa0", "#0f766e"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var kind = canvas.dataset.kind || "bar";
    new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, i) {
          return { label: s.name, data: s.values, backgroundColor: palette[i % palette.length],
                   borderColor: palette[i % palette.length], spanGaps: true };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: { x: { stacked: canvas.dataset.stacked === "true" },
                  y: { beginAtZero: true, stacked: canvas.dataset.stacked === "true" } }
      }
    });
  });
})();
