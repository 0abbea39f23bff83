// The biến động page's coverage: the 4G/3G populated-area coverage of past states is computed in the background,
// one state at a time (web.history.coverage_values). While some cell of the as-of table or some point of the 4G
// chart is missing, this polls /bien-dong/coverage.json (each request starts the next state) and puts in the cells'
// texts and the chart's SVG as they land. Stops when nothing is pending (or after GIVE_UP_MS: a computation that
// keeps failing leaves its cell "—").
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  var delay = Number(script.getAttribute("data-poll-ms")) || 3000;
  var GIVE_UP_MS = 30 * 60 * 1000;
  var started = Date.now();
  var root = document.documentElement;

  function fill(res) {
    Object.keys(res.rows).forEach(function (key) {
      var row = document.querySelector('#bd-indicators tr[data-key="' + key + '"]');
      if (!row) { return; }
      var r = res.rows[key];
      ["then", "now", "diff"].forEach(function (col) {
        var cell = row.querySelector('td[data-col="' + col + '"]');
        if (!cell) { return; }
        cell.textContent = r[col + "_text"];
        cell.setAttribute("data-v", r[col] === null || r[col] === undefined ? "" : String(r[col]));
        if (r[col + "_pending"]) { cell.setAttribute("data-pending", "1"); cell.classList.add("pending"); } else {
          cell.removeAttribute("data-pending"); cell.classList.remove("pending");
        }
      });
    });
    var box = document.getElementById(res.chart.id + "-box");
    if (box) {
      var old = box.querySelector("svg");
      var holder = document.createElement("div");
      holder.innerHTML = res.chart.svg;
      if (old && holder.firstChild) { box.replaceChild(holder.firstChild, old); }
      box.setAttribute("data-computed", String(res.chart.computed));
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (res) {
        fill(res);
        root.setAttribute("data-bd-coverage-pending", String(res.pending));
        if (res.pending > 0 && Date.now() - started < GIVE_UP_MS) { setTimeout(poll, delay); }
      })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, delay);
}());
