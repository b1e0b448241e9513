/* Draws every <canvas data-chart="ID"> from the JSON in <script id="ID">, built by
   apps/dashboards/charts.py. Axis "format": percent | times | count sets tick and tooltip labels.
   Every word comes translated in the JSON; numbers are grouped for the page's language. */
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var lang = document.documentElement.lang || "en";
  var fmt = {
    percent: function (v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(v < 0.1 ? 1 : 0) + "%"; },
    times: function (v) { return v === null || v === undefined ? "–" : Number(v).toFixed(2) + "×"; },
    count: function (v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString(lang); }
  };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#3a4150";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 12;

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var config = JSON.parse(source.textContent);
    var scales = (config.options && config.options.scales) || {};
    var formats = {};
    Object.keys(scales).forEach(function (id) {
      var f = fmt[scales[id].format] || null;
      delete scales[id].format;
      if (f) {
        formats[id] = f;
        scales[id].ticks = Object.assign({}, scales[id].ticks || {}, { callback: function (v) { return f(v); } });
      }
    });
    config.options = config.options || {};
    config.options.plugins = config.options.plugins || {};
    config.options.plugins.tooltip = {
      callbacks: {
        label: function (ctx) {
          var axis = ctx.dataset.yAxisID || (config.options.indexAxis === "y" ? "x" : "y");
          var f = formats[axis] || fmt.count;
          var raw = ctx.raw;
          var text = Array.isArray(raw) ? f(raw[0]) + " – " + f(raw[1]) : f(raw);
          return (ctx.dataset.label ? ctx.dataset.label + ": " : "") + text;
        }
      }
    };
    new Chart(canvas, config);
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
