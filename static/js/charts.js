// Draws each chart (the dashboard's and the capability trends') from the JSON the page
// embeds; the table below each chart holds the same figures for readers without JavaScript.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  // Each series names its tone (dashboard/selectors.py): on track is blue or green, at risk
  // amber, missed red. The legend names every series, so colour is never the only signal.
  var tones = {
    neutral: "#1d4f91", ok: "#1f6b3a", warn: "#b45309", "warn-dark": "#7c4a03",
    bad: "#a12622", "bad-dark": "#5f1411",
    // Capability trends (benchmarks/trends.py): the frontier, and the submission set against it.
    frontier: "#6b4fa0", highlight: "#111827"
  };
  var spare = ["#1d4f91", "#6b4fa0", "#0f766e", "#475569"];
  function colour(series, i) { return tones[series.tone] || spare[i % spare.length]; }
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var data = JSON.parse(source.textContent);
    var kind = canvas.dataset.kind || "bar";
    var stacked = canvas.dataset.stacked === "true";
    var y = { beginAtZero: true, stacked: stacked };
    if (data.counts) {
      // Counts are whole numbers: ticks are at least 1 apart, never "0.5 reviews".
      y.ticks = { precision: 0 };
    }
    new Chart(canvas, {
      type: kind,
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, i) {
          // A series may ask to be drawn as points only, as a step line, dashed (a policy
          // level), or emphasised (the submission a trend is about); the legend names each.
          return { label: s.name, data: s.values, backgroundColor: colour(s, i),
                   borderColor: colour(s, i), spanGaps: true,
                   showLine: !s.points_only, stepped: s.stepped ? "before" : false,
                   borderDash: s.dashed ? [6, 4] : [], pointRadius: s.dashed ? 0 : (s.emphasis ? 7 : 3),
                   pointStyle: s.emphasis ? "rectRot" : "circle" };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" } },
        scales: { x: { stacked: stacked }, y: y }
      }
    });
  });
})();
