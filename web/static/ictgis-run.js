// Poll a scenario run until it finishes, then reload the page to show its results. The status, the progress bar and
// the message follow the run (the server gives them in the page's language: status_text, message_text).
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.getAttribute("data-url");
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) { return r.json(); }).then(function (run) {
      var status = document.getElementById("run-status");
      status.setAttribute("data-status", run.status);
      status.textContent = run.status_text || run.status;
      document.getElementById("run-progress").value = run.progress || 0;
      document.getElementById("run-message").textContent = run.message_text || "";
      if (run.status === "queued" || run.status === "running") {
        setTimeout(poll, 1000);
      } else {
        window.location.reload();
      }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
}());
