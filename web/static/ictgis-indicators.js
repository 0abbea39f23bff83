// The indicator table: values still computed in the background (4G and 3G coverage) are filled in when they land,
// formatted as the page's language writes numbers; once none is pending the page reloads, so that the targets' status
// and the charts per unit show them too. Polls the indicator contract (/api/indicators) until every pending cell has its value (at most GIVE_UP_MS: a
// computation that keeps failing shows "—", as an unavailable value; one stopped by an input error reloads the
// page, which shows the error).
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
      if (r.headers.get("X-Ictgis-Coverage-Errors") > 0) {  // stopped by an input error: the page shows it
        window.location.reload();
        return new Promise(function () {});
      }
      return r.json();
    }).then(function (result) {
      var lang = document.documentElement.lang === "en" ? "en-US" : "vi-VN";
      var landed = 0;
      Array.prototype.forEach.call(cells, function (cell) {
        var value = lookup(result, cell.parentNode.getAttribute("data-key"));
        if (value !== null && value !== undefined) {
          var digits = Number.isInteger(value) ? 0 : 1;
          cell.textContent = new Intl.NumberFormat(lang, {minimumFractionDigits: digits,
                                                          maximumFractionDigits: digits}).format(value);
          cell.setAttribute("data-v", String(value));
          cell.removeAttribute("data-pending");
          cell.classList.remove("pending");
          landed += 1;
        }
      });
      if (landed && !document.querySelector("#indicator-table td[data-pending]")) {
        window.location.reload();
        return;
      }
      delay = Math.min(delay * 1.5, 5000);
      setTimeout(poll, delay);
    }).catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, delay);
}());
