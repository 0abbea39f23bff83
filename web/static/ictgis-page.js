// Plain pages and the map: "In / Print" buttons (data-print) and tables sorted by a tap on their header
// (table.sortable; a cell's data-v holds its number, other cells sort as Vietnamese text).
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }
  function cellKey(cell) {
    if (!cell) { return ""; }
    var v = cell.getAttribute("data-v");
    if (v !== null && v !== "" && !isNaN(Number(v))) { return Number(v); }
    return (cell.textContent || "").trim();
  }
  function sortBy(table, index, button) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = button.getAttribute("data-dir") === "asc" ? "desc" : "asc";
    Array.prototype.forEach.call(table.querySelectorAll("th button.sort"), function (b) {
      b.removeAttribute("data-dir"); b.parentNode.removeAttribute("aria-sort");
    });
    button.setAttribute("data-dir", dir);
    button.parentNode.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[index]), y = cellKey(b.cells[index]);
      var c;
      if (typeof x === "number" && typeof y === "number") { c = x - y; }
      else if (x === "" || y === "") { c = x === "" ? (y === "" ? 0 : 1) : -1; return c; }  // blanks last
      else { c = String(x).localeCompare(String(y), "vi"); }
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  ready(function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      var heads = table.tHead ? table.tHead.rows[0].cells : [];
      Array.prototype.forEach.call(heads, function (th, index) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "sort";
        while (th.firstChild) { b.appendChild(th.firstChild); }
        th.appendChild(b);
        b.addEventListener("click", function () { sortBy(table, index, b); });
      });
    });
  });
}());
