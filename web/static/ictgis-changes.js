// Map of what a scenario run changed: commune outlines plus the run's changes.geojson, coloured by change.
(function () {
  "use strict";
  var script = document.currentScript;
  var el = document.getElementById("changes-map");
  if (!el || typeof L === "undefined") { return; }
  var lang = document.documentElement.lang || "vi";
  var LABELS = {
    vi: {added: "Mới", upgraded: "Nâng cấp", retired: "Tắt công nghệ", power: "Đổi nguồn điện",
         connected: "Có cáp quang mới", removed: "Bỏ"},
    en: {added: "Added", upgraded: "Upgraded", retired: "Technology off", power: "Power source changed",
         connected: "Newly on fiber", removed: "Removed"}
  }[lang === "en" ? "en" : "vi"];
  var COLORS = {added: "#1a9850", upgraded: "#2171b5", retired: "#d73027", power: "#fdae61",
                connected: "#6a3d9a", removed: "#636363"};
  var map = L.map(el, {preferCanvas: true});
  function text(tag, value) { var n = document.createElement(tag); n.textContent = value; return n; }
  fetch(script.getAttribute("data-communes")).then(function (r) { return r.json(); }).then(function (gj) {
    var outline = L.geoJSON(gj, {style: {color: "#777", weight: 0.8, fill: false}}).addTo(map);
    map.fitBounds(outline.getBounds());
    return fetch(script.getAttribute("data-changes"));
  }).then(function (r) { return r.json(); }).then(function (gj) {
    var counts = {};
    L.geoJSON(gj, {
      style: function (f) { return {color: COLORS[f.properties.change] || "#000", weight: 3}; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 5, weight: 1, color: "#222", fillOpacity: 0.9,
                                       fillColor: COLORS[f.properties.change] || "#000"});
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        counts[p.change] = (counts[p.change] || 0) + 1;
        var box = document.createElement("div");
        box.appendChild(text("strong", (LABELS[p.change] || p.change) + " · " + p.layer));
        box.appendChild(text("div", p.id + (p.name ? " — " + p.name : "")));
        box.appendChild(text("div", p.detail || ""));
        layer.bindPopup(box);
      }
    }).addTo(map);
    var legend = document.getElementById("changes-legend");
    Object.keys(counts).forEach(function (k) {
      var item = document.createElement("li");
      var swatch = text("span", "■ ");
      swatch.style.color = COLORS[k] || "#000";
      item.appendChild(swatch);
      item.appendChild(document.createTextNode((LABELS[k] || k) + ": " + counts[k]));
      legend.appendChild(item);
    });
  }).catch(function () { el.textContent = "—"; });
}());
