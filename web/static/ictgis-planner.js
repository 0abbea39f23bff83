// The planner's candidate site: a click on the map places it (a marker that can be dragged), the server predicts its
// coverage (/api/candidate) and the page shows it as an overlay with the villages it would newly cover, their
// households and people, and the site's cost. Height and technology re-run it; "Add" saves it into a copy of a
// scenario. Timings of the last placement are kept in window.ictgisPlanner (click → shown, for the tests).
(function () {
  "use strict";
  var box = document.getElementById("ictgis-planner");
  if (!box) { return; }
  var words = JSON.parse(document.getElementById("planner-words").textContent);
  var url = box.getAttribute("data-url");
  var csrf = box.getAttribute("data-csrf");
  var locale = box.getAttribute("data-lang") === "en" ? "en-US" : "vi-VN";
  var toggle = document.getElementById("planner-toggle");
  var body = document.getElementById("planner-body");
  var result = document.getElementById("planner-result");
  var status = document.getElementById("planner-status");
  var height = document.getElementById("planner-height");
  var tech = document.getElementById("planner-tech");
  var addForm = document.getElementById("planner-add");
  var state = {active: false, marker: null, overlay: null, villages: null, seq: 0, last: null,
               clickAt: null, shownAt: null};
  window.ictgisPlanner = state;

  function fmt(value, digits) {
    return new Intl.NumberFormat(locale, {minimumFractionDigits: digits || 0,
                                          maximumFractionDigits: digits || 0}).format(value);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function map() { return window.ictgis && window.ictgis.state && window.ictgis.state.map; }

  function show(data) {
    var m = map();
    if (state.overlay) { m.removeLayer(state.overlay); state.overlay = null; }
    if (state.villages) { m.removeLayer(state.villages); }
    if (data.overlay) {
      state.overlay = L.imageOverlay(data.overlay.png, data.overlay.bounds,
                                     {opacity: 0.6, interactive: false, className: "planner-coverage"}).addTo(m);
    }
    state.villages = L.layerGroup(data.villages.map(function (v) {
      return L.circleMarker([v.lat, v.lon], {radius: 7, color: "#6a00a8", weight: 3, fill: false,
                                             interactive: false});
    })).addTo(m);
    result.textContent = "";
    status.textContent = "";
    box.classList.remove("busy");
    var dl = el("dl", "planner-figures");
    [[words.new_villages, fmt(data.villages_newly_covered), "planner-new"],
     [words.households, fmt(data.households), "planner-households"],
     [words.people, fmt(data.population), "planner-people"],
     [words.cost, data.cost_text, "planner-cost"],
     [words.in_reach, fmt(data.villages_in_reach), "planner-reach"]].forEach(function (row) {
      dl.appendChild(el("dt", null, row[0]));
      var dd = el("dd", null, row[1]);
      dd.id = row[2];
      dl.appendChild(dd);
    });
    result.appendChild(dl);
    if (!data.base_known) { result.appendChild(el("p", "planner-note", words.base_pending)); }
    if (data.villages.length) {
      var ul = el("ul", "planner-villages");
      ul.id = "planner-villages";
      data.villages.forEach(function (v) {
        ul.appendChild(el("li", null, v.name + " — " + fmt(v.households) + " " + words.households.toLowerCase() +
                                      ", " + fmt(v.rsrp_dbm, 1) + " dBm"));
      });
      result.appendChild(ul);
    } else {
      result.appendChild(el("p", "planner-note", words.none_new));
    }
    result.appendChild(el("p", "planner-note", words.drag));
    addForm.hidden = false;
    addForm.elements.lon.value = data.lon;
    addForm.elements.lat.value = data.lat;
    addForm.elements.height_m.value = data.height_m;
    addForm.elements.technology.value = data.technology;
    state.last = data;
    state.shownAt = window.performance.now();
    box.setAttribute("data-shown", String(state.seq));
  }

  function run() {
    if (!state.marker) { return; }
    var ll = state.marker.getLatLng();
    var seq = ++state.seq;
    box.removeAttribute("data-shown");
    // the figures stay until the new ones replace them: the panel keeps its size, so that a click on its buttons
    // (which may follow the change of the height) lands where it was aimed
    status.textContent = words.computing;
    box.classList.add("busy");
    fetch(url, {method: "POST", credentials: "same-origin",
                headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
                body: JSON.stringify({lon: ll.lng, lat: ll.lat, height_m: Number(height.value),
                                      technology: tech.value})})
      .then(function (r) {
        return r.json().then(function (j) { if (!r.ok) { throw new Error(j.message || r.status); } return j; });
      })
      .then(function (data) { if (seq === state.seq) { show(data); } })
      .catch(function (err) {
        if (seq === state.seq) { status.textContent = words.failed + ": " + err.message; box.classList.remove("busy"); }
      });
  }

  function place(e) {
    if (!state.active) { return; }
    state.clickAt = window.performance.now();
    state.shownAt = null;
    if (!state.marker) {
      state.marker = L.marker(e.latlng, {draggable: true, title: "candidate", autoPan: true}).addTo(map());
      state.marker.on("dragend", function () { state.clickAt = window.performance.now(); run(); });
    } else {
      state.marker.setLatLng(e.latlng);
    }
    run();
  }

  function setActive(on) {
    state.active = on;
    body.hidden = !on;
    toggle.setAttribute("aria-expanded", on ? "true" : "false");
    box.classList.toggle("active", on);
    var container = map() && map().getContainer();
    if (container) { container.classList.toggle("planner-placing", on); }
  }

  toggle.addEventListener("click", function () { setActive(!state.active); });
  height.addEventListener("change", run);
  tech.addEventListener("change", run);

  function attach() {
    var m = map();
    if (!m) { window.setTimeout(attach, 100); return; }
    var Control = L.Control.extend({options: {position: "topleft"}, onAdd: function () { return box; }});
    new Control().addTo(m);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    // "preclick": every click on the map, also on a commune or village (their popups stop the click itself);
    // while placing, popups stay closed
    m.on("preclick", place);
    m.on("popupopen", function () { if (state.active) { m.closePopup(); } });
    box.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", attach); } else { attach(); }
}());
