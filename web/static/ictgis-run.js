// Poll a scenario run until it finishes, then reload the page to show its results.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) { return r.json(); }).then(function (run) {
      document.getElementById("run-progress").value = run.progress || 0;
      document.getElementById("run-message").textContent = run.message || "";
      if (run.status === "queued" || run.status === "running") {
        setTimeout(poll, 1000);
      } else {
        window.location.reload();
      }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
}());
