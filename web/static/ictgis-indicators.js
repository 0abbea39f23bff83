// The indicator table: values still computed in the background (4G and 3G coverage) are filled in when they land.
// Polls the indicator contract (/api/indicators) until every pending cell has its value (at most GIVE_UP_MS: a
// computation that keeps failing shows "—", as an unavailable value).
(function () {
  "use strict";
  var url = document.currentScript.getAttribute("data-url");
  var delay = 1000;
  var GIVE_UP_MS = 15 * 60 * 1000;
  var started = Date.now();

  function lookup(result, key) {
    return key.split(".").reduce(function (obj, part) {
      return obj === null || obj === undefined ? null : obj[part];
    }, result);
  }

  function poll() {
    var cells = document.querySelectorAll("#indicator-table td[data-pending]");
    if (!cells.length) { return; }
    if (Date.now() - started > GIVE_UP_MS) {
      Array.prototype.forEach.call(cells, function (cell) { cell.textContent = "—"; cell.removeAttribute("data-pending"); });
      return;
    }
    fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (result) {
      Array.prototype.forEach.call(cells, function (cell) {
        var value = lookup(result, cell.parentNode.getAttribute("data-key"));
        if (value !== null && value !== undefined) {
          cell.textContent = String(value);
          cell.removeAttribute("data-pending");
          cell.classList.remove("pending");
        }
      });
      delay = Math.min(delay * 1.5, 5000);
      setTimeout(poll, delay);
    }).catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, delay);
}());
