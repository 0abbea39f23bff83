// The biến động page's change map: commune outlines, then the changed features coloured by change (added green,
// removed red, changed orange; colours and classes come with each feature), a popup with the values before → after,
// and a dashed line from a moved point's old position. Drawn as SVG paths (class "change-<kind>") so that each
// feature is an element of the page.
(function () {
  "use strict";
  var script = document.currentScript;
  var el = document.getElementById("change-map");
  if (!el || typeof L === "undefined") { return; }
  var words = JSON.parse(script.getAttribute("data-words"));
  var map = L.map(el, {renderer: L.svg(), zoomSnap: 0.25});
  function node(tag, value, cls) {
    var n = document.createElement(tag);
    if (value !== undefined && value !== null) { n.textContent = String(value); }
    if (cls) { n.className = cls; }
    return n;
  }
  function show(v) { return v === null || v === undefined || v === "" ? "—" : (v === true ? "✓" : (v === false ? "✗" : v)); }
  function popup(p) {
    var box = node("div", null, "change-popup");
    box.appendChild(node("strong", p.change_label + " · " + p.layer_label));
    box.appendChild(node("div", p.key + (p.name ? " — " + p.name : "") + (p.commune_name ? " (" + p.commune_name + ")" : "")));
    var table = node("table");
    var head = node("tr");
    [words.field, words.before, words.after].forEach(function (h) { head.appendChild(node("th", h)); });
    table.appendChild(head);
    (p.attrs || []).forEach(function (a) {
      var tr = node("tr");
      tr.appendChild(node("td", (p.attr_labels || {})[a[0]] || a[0]));
      tr.appendChild(node("td", p.change === "added" ? "" : show(a[1])));
      tr.appendChild(node("td", p.change === "removed" ? "" : (p.change === "changed" ? "→ " : "") + show(a[2])));
      table.appendChild(tr);
    });
    if (p.moved_m) {
      var tr = node("tr");
      tr.appendChild(node("td", words.moved));
      tr.appendChild(node("td", ""));
      var lang = document.documentElement.lang === "en" ? "en-US" : "vi-VN";
      tr.appendChild(node("td", new Intl.NumberFormat(lang, {maximumFractionDigits: 0}).format(p.moved_m) + " m"));
      table.appendChild(tr);
    }
    box.appendChild(table);
    return box;
  }
  var bounds = null;
  // feature key → its Leaflet layer ("layer:key"), for tests and the README's screenshot: ictgisChanges.open(id)
  var byKey = {};
  window.ictgisChanges = {map: map, layers: byKey, open: function (id) { byKey[id].openPopup(); }};
  fetch(script.getAttribute("data-communes")).then(function (r) { return r.json(); }).then(function (gj) {
    var outline = L.geoJSON(gj, {style: {color: "#777", weight: 0.8, fill: false}, interactive: false}).addTo(map);
    if (gj.features.length) { bounds = outline.getBounds(); map.fitBounds(bounds); } else { map.setView([21.4, 103.0], 8); }
    return fetch(script.getAttribute("data-changes"));
  }).then(function (r) { return r.json(); }).then(function (gj) {
    var layer = L.geoJSON(gj, {
      style: function (f) { return {color: f.properties.colour, weight: 3, className: f.properties["class"]}; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, {radius: 7, weight: 1.5, color: "#222", fillOpacity: 0.9,
                                       fillColor: f.properties.colour, className: f.properties["class"]});
      },
      onEachFeature: function (f, lyr) {
        lyr.bindPopup(popup(f.properties), {maxWidth: 320});
        byKey[f.properties.layer + ":" + f.properties.key] = lyr;
        var from = f.properties.before_point;
        if (from && f.geometry && f.geometry.type === "Point") {
          L.polyline([[from[1], from[0]], [f.geometry.coordinates[1], f.geometry.coordinates[0]]],
                     {color: f.properties.colour, weight: 2, dashArray: "4 4", interactive: false,
                      className: "change-moved"}).addTo(map);
        }
      }
    }).addTo(map);
    if (!bounds && gj.features.length) { map.fitBounds(layer.getBounds()); }
    el.setAttribute("data-features", String(gj.features.length));
    document.documentElement.setAttribute("data-bd-ready", "1");
  }).catch(function (e) {
    el.setAttribute("data-error", String(e));
    document.documentElement.setAttribute("data-bd-ready", "1");
  });
}());
