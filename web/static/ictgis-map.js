// ictgis web map client: layers fetched as GeoJSON, styles, popups (text only, never HTML), legend,
// choropleth selector and search with the same diacritic folding as ictgis.layers.fold (đ → d).
// On a phone (NARROW) the layer list and the legend start folded, so that the bar above the map stays reachable;
// the map's controls and popups keep clear of the bar whatever its height (--ictgis-bar-h).
(function () {
  "use strict";

  var cfg = null;
  var state = {map: null, layers: {}, pending: 0, started: false, indicator: null, breaks: [], index: null};
  var NARROW = window.matchMedia ? window.matchMedia("(max-width: 700px)").matches : false;

  function config() {
    if (!cfg) {
      var el = document.getElementById("ictgis-config");
      cfg = el ? JSON.parse(el.textContent) : {labels: {}, indicators: [], unavailable: []};
    }
    return cfg;
  }

  function label(key) {
    var labels = config().labels || {};
    return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : key;
  }

  // Same as ictgis.layers.fold: đ → d, NFD without combining marks, lower case, _-./ → space, one space.
  function fold(text) {
    var s = String(text === null || text === undefined ? "" : text).replace(/đ/g, "d").replace(/Đ/g, "D");
    s = s.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase().replace(/[_\-./]/g, " ");
    return s.split(/\s+/).filter(Boolean).join(" ");
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function fmt(value, decimals) {
    if (value === null || value === undefined || value === "") { return "—"; }
    if (typeof value === "boolean") { return value ? label("yes") : label("no"); }
    if (typeof value === "number") {
      return value.toLocaleString(config().lang === "en" ? "en-GB" : "vi-VN",
        {maximumFractionDigits: decimals === undefined ? 2 : decimals});
    }
    return String(value);
  }

  // ------------------------------------------------------------------------------------------ styles
  var TECH = {"5G": "#08306b", "4G": "#2171b5", "3G": "#6baed6", "2G": "#c6dbef"};
  var FIBER = {backbone: "#54278f", distribution: "#807dba", access: "#bcbddc"};
  var POST = {cap1: "#a50f15", cap2: "#de2d26", cap3: "#fb6a4a", kt1: "#fc9272", large_cust: "#fcbba1",
    bdvhx: "#ff7f00", letterbox: "#969696", other: "#636363"};
  var ROAD = {national: ["#8c510a", 3], provincial: ["#bf812d", 2.2], district: ["#dfc27d", 1.6],
    commune: ["#dfc27d", 1.1], track: ["#c7b38a", 0.8]};
  // Green: fiber and 4G (status_fiber_4g), or fiber while 4G is not known (status_fiber: no coverage computed).
  var STATUS = {status_fiber_4g: "#1a9850", status_fiber: "#1a9850", status_no_4g: "#fdae61",
    status_no_fiber: "#d73027", status_both: "#67001f", unknown: "#969696"};
  var STATUS_ORDER = ["status_fiber_4g", "status_fiber", "status_no_4g", "status_no_fiber", "status_both", "unknown"];
  var RAMP = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];
  var NEUTRAL = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

  function villageStatus(p) {
    var noFiber = p.fiber === false;
    var no4g = p.g4 === false;
    if (noFiber && no4g) { return "status_both"; }
    if (noFiber) { return "status_no_fiber"; }
    if (no4g) { return "status_no_4g"; }
    if (p.fiber === true) { return p.g4 === true ? "status_fiber_4g" : "status_fiber"; }
    return "unknown";
  }

  function indicatorInfo(key) {
    var list = config().indicators || [];
    for (var i = 0; i < list.length; i++) { if (list[i].key === key) { return list[i]; } }
    return null;
  }

  // Classes: fixed edges of the indicator (norms, targets; class k holds edges[k-1] <= v < edges[k]) or, without
  // edges, quantile breaks of the values (class k holds breaks[k] < v <= breaks[k+1]).
  function classOf(value) {
    if (value === null || value === undefined || isNaN(value)) { return -1; }
    var info = indicatorInfo(state.indicator);
    if (info && info.edges && info.edges.length) {
      var k = 0;
      while (k < info.edges.length && value >= info.edges[k]) { k++; }
      return k;
    }
    var b = state.breaks;
    for (var i = 1; i < b.length; i++) { if (value <= b[i]) { return i - 1; } }
    return b.length > 1 ? b.length - 2 : 0;
  }

  // Legend rows [text] of the current classes.
  function classTexts(info) {
    var out = [];
    var e = info.edges || [];
    if (e.length) {
      out.push("< " + fmt(e[0]));
      for (var k = 1; k < e.length; k++) { out.push(fmt(e[k - 1]) + " – < " + fmt(e[k])); }
      out.push(info.unit === "%" && e[e.length - 1] === 100 ? fmt(100) : "≥ " + fmt(e[e.length - 1]));
      return out;
    }
    for (var i = 0; i < state.breaks.length - 1; i++) {
      out.push(fmt(state.breaks[i]) + " – " + fmt(state.breaks[i + 1]));
    }
    return out;
  }

  function palette() {
    var info = indicatorInfo(state.indicator);
    if (!info) { return NEUTRAL; }
    if (info.higher_is_better === true) { return RAMP.slice().reverse(); }
    if (info.higher_is_better === false) { return RAMP; }
    return NEUTRAL;
  }

  function communeStyle(feature) {
    var value = state.indicator ? feature.properties["ind_" + state.indicator] : null;
    var cls = classOf(value);
    var colours = palette();
    return {color: "#4d4d4d", weight: 0.8, fillOpacity: state.indicator ? 0.55 : 0.1,
      fillColor: cls < 0 ? "#e0e0e0" : colours[Math.min(cls, colours.length - 1)]};
  }

  var STYLES = {
    communes: communeStyle,
    districts: function () { return {color: "#252525", weight: 2, fill: false}; },
    roads: function (f) {
      var r = ROAD[f.properties.road_class] || ["#bdbdbd", 1];
      return {color: r[0], weight: r[1]};
    },
    fiber_routes: function (f) {
      var kind = f.properties.kind;
      return {color: FIBER[kind] || "#6a3d9a", weight: kind === "backbone" ? 3.5 : (kind === "access" ? 1.5 : 2.5),
        dashArray: f.properties.install === "aerial" ? null : "6 4"};
    },
    fiber_planned: function () { return {color: "#e7298a", weight: 2.5, dashArray: "4 6"}; },
    line: function () { return {color: "#e7298a", weight: 2}; }
  };

  // A circle marker drawn over a halo (a disc of `haloColor`, `halo` px wider than the marker and its stroke): with
  // a dark stroke inside a white halo the symbol stands out on light and dark choropleth classes alike. The halo
  // also widens the area a tap hits.
  var HaloMarker = L.CircleMarker.extend({
    options: {halo: 0, haloColor: "#ffffff"},
    _updatePath: function () {
      var r = this._renderer;
      var o = this.options;
      if (o.halo && r && r._ctx && r._drawing && !this._empty()) {
        var ctx = r._ctx;
        ctx.beginPath();
        ctx.arc(this._point.x, this._point.y,
          Math.max(Math.round(this._radius), 1) + (o.stroke ? o.weight / 2 : 0) + o.halo, 0, Math.PI * 2, false);
        ctx.globalAlpha = 1;
        ctx.fillStyle = o.haloColor;
        ctx.fill();
      }
      L.CircleMarker.prototype._updatePath.call(this);
    },
    _clickTolerance: function () {
      return L.CircleMarker.prototype._clickTolerance.call(this) + (this.options.halo || 0);
    }
  });

  var POINTS = {
    villages: function (p) {
      var c = STATUS[villageStatus(p)];
      return {radius: 3.5, color: "#1a1a1a", weight: 1, fillColor: c, fillOpacity: 1, halo: 2,
        haloColor: "#ffffff"};
    },
    bts_sites: function (p) {
      var diesel = p.power === "diesel";
      return {radius: diesel ? 6 : 4.5, color: diesel ? "#000000" : "#ffffff", weight: diesel ? 2.5 : 1,
        fillColor: TECH[p.best] || "#999999", fillOpacity: 0.95};
    },
    post_offices: function (p) {
      return {radius: 5, color: "#252525", weight: 1, fillColor: POST[p.kind] || "#636363", fillOpacity: 1};
    },
    point: function () { return {radius: 5, color: "#000", weight: 1, fillColor: "#e7298a", fillOpacity: 0.9}; },
    // The last mile: villages (points) and their links (lines) coloured by the technology chosen.
    lastmile: function (p) {
      var c = LASTMILE[p.technology] || "#999999";
      return {radius: 5, color: p.villages !== undefined || p.from_id !== undefined ? c : "#1a1a1a",
        weight: p.from_id !== undefined ? 2 : 1, dashArray: p.from_id !== undefined ? "2 4" : null,
        fillColor: c, fillOpacity: 0.95};
    }
  };
  var LASTMILE = {fiber: "#1b9e77", microwave: "#7570b3", satellite: "#d95f02", fwa: "#e6ab02"};

  // ------------------------------------------------------------------------------------------ popups
  function rows(style, p) {
    var out = [];
    function add(key, value, decimals) { if (value !== undefined) { out.push([label(key), fmt(value, decimals)]); } }
    if (style === "communes") {
      add("kind", p.kind ? label(p.kind) : null);
      add("district", p.district);
      add("population", p.population, 0);
      add("households", p.households, 0);
      (config().indicators || []).forEach(function (ind) {
        var v = p["ind_" + ind.key];
        out.push([ind.label, v === null || v === undefined ? "—" : fmt(v) + " " + ind.unit]);
      });
      add("radio", p.radio);
      add("code", p.code);
    } else if (style === "villages") {
      add("commune", p.commune);
      add("population", p.population, 0);
      add("households", p.households, 0);
      add("fiber", p.fiber);
      if (p.g4 !== undefined) { add("g4", p.g4); }
      out.push([label("status"), label(villageStatus(p))]);
    } else if (style === "bts_sites") {
      add("operator", p.operator);
      add("tech", p.tech);
      add("power", p.power ? label(p.power) : null);
      add("height_m", p.height_m, 0);
      add("band_mhz", p.band_mhz, 0);
    } else if (style === "fiber_routes") {
      add("kind", p.kind ? label(p.kind) : null);
      add("install", p.install ? label(p.install) : null);
      add("operator", p.operator);
    } else if (style === "post_offices") {
      add("kind", p.kind ? label(p.kind) : null);
      add("commune", p.commune);
    } else if (style === "roads") {
      add("road_class", p.road_class ? label(p.road_class) : null);
    } else {
      Object.keys(p).forEach(function (k) { add(k, p[k]); });
    }
    return out;
  }

  function title(style, p) {
    if (style === "communes") { return (p.kind ? label(p.kind) + " " : "") + (p.name || ""); }
    if (style === "bts_sites") { return label("bts_sites") + " " + (p.id || ""); }
    if (style === "post_offices") { return p.name || p.id || ""; }
    if (style === "roads") { return p.name || label("roads"); }
    return p.name || p.id || "";
  }

  function popupContent(style, p) {
    var box = el("div", "ictgis-popup");
    box.appendChild(el("strong", null, title(style, p)));
    var table = el("table");
    rows(style, p).forEach(function (r) {
      var tr = el("tr");
      tr.appendChild(el("th", null, r[0]));
      tr.appendChild(el("td", null, r[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  // ---------------------------------------------------------------------------------- remote layers
  function markReady() {
    if (!state.started || state.pending > 0) { return; }
    window.requestAnimationFrame(function () {
      window.requestAnimationFrame(function () {
        document.documentElement.setAttribute("data-ictgis-ready", "1");
        window.ictgisReadyAt = window.performance.now();
        if (window.performance.mark) { window.performance.mark("ictgis-ready"); }
      });
    });
  }

  function load(layer) {
    var spec = layer.ictgisSpec;
    if (spec.loaded || spec.loading) { return; }
    spec.loading = true;
    var counted = !state.started && spec.show;
    fetch(spec.url, {headers: {"Accept": "application/geo+json, application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(spec.url + ": " + r.status); } return r.json(); })
      .then(function (gj) {
        layer.addData(gj);
        spec.loaded = true;
        layer.fire("ictgis:loaded");
        restack();
        if (spec.style === "communes") { setIndicator(state.indicator, true); }
        updateLegend();
      })
      .catch(function (err) { if (window.console) { window.console.error("ictgis:", err); } })
      .then(function () {
        spec.loading = false;
        if (counted) { state.pending -= 1; markReady(); }
      });
  }

  function remoteLayer(spec) {
    var style = spec.style;
    var pointStyle = POINTS[style] || (style === "point" ? POINTS.point : null);
    var options = {
      // GeoJSON applies `style` to every feature, markers included: points get their own style here.
      style: pointStyle ? function (f) { return pointStyle(f.properties); } : (STYLES[style] || STYLES.line),
      onEachFeature: function (feature, layer) {
        layer.bindPopup(function () { return popupContent(style, feature.properties); });
        if (style === "communes" || style === "villages") {
          layer.bindTooltip(function () { return el("span", null, title(style, feature.properties)); },
            {sticky: style === "communes"});
        }
      }
    };
    if (POINTS[style] || style === "point") {
      options.pointToLayer = function (feature, latlng) {
        var opts = (POINTS[style] || POINTS.point)(feature.properties);
        return opts.halo ? new HaloMarker(latlng, opts) : L.circleMarker(latlng, opts);
      };
    }
    var layer = L.geoJSON(null, options);
    layer.ictgisSpec = {url: spec.url, style: style, show: spec.show, name: spec.name};
    state.layers[style] = layer;
    if (spec.show) { state.pending += 1; }
    layer.on("add", function () { load(layer); restack(); updateLegend(); });
    layer.on("remove", function () { updateLegend(); });
    return layer;
  }

  // Drawing order whatever order the layers arrive in: polygons at the back, points in front.
  var BACK = ["communes", "districts"];
  var FRONT = ["villages", "post_offices", "bts_sites"];

  function restack() {
    if (!state.map) { return; }
    BACK.slice().reverse().forEach(function (n) { if (on(n)) { state.layers[n].bringToBack(); } });
    FRONT.forEach(function (n) { if (on(n)) { state.layers[n].bringToFront(); } });
  }

  // ------------------------------------------------------------------------------------- choropleth
  function quantiles(v, n) {
    var breaks = [v[0]];
    for (var i = 1; i <= n; i++) {
      var q = v[Math.min(v.length - 1, Math.round(i * (v.length - 1) / n))];
      if (q > breaks[breaks.length - 1]) { breaks.push(q); }
    }
    return breaks;
  }

  function quantileBreaks(values, n) {
    var v = values.filter(function (x) { return x !== null && x !== undefined && !isNaN(x); })
      .sort(function (a, b) { return a - b; });
    if (!v.length) { return []; }
    var breaks = quantiles(v, n);
    if (breaks.length < n + 1) {  // many equal values collapse classes: take the quantiles of the distinct ones
      var distinct = v.filter(function (x, i) { return i === 0 || x !== v[i - 1]; });
      var other = quantiles(distinct, n);
      if (other.length > breaks.length) { breaks = other; }
    }
    if (breaks.length === 1) { breaks.push(v[0]); }
    return breaks;
  }

  function setIndicator(key, silent) {
    if (key && !indicatorInfo(key)) { key = null; }
    state.indicator = key;
    var communes = state.layers.communes;
    var values = [];
    if (communes && key) {
      communes.eachLayer(function (l) { values.push(l.feature.properties["ind_" + key]); });
    }
    state.breaks = quantileBreaks(values, 5);
    if (communes) { communes.setStyle(communeStyle); }
    var select = document.getElementById("ictgis-indicator");
    if (select && select.value !== (key || "")) { select.value = key || ""; }
    if (!silent && window.history && window.history.replaceState) {
      var url = new URL(window.location.href);
      if (key) { url.searchParams.set("indicator", key); } else { url.searchParams.delete("indicator"); }
      window.history.replaceState(null, "", url.toString());
    }
    updateLegend();
  }

  function setupSelector() {
    var select = document.getElementById("ictgis-indicator");
    if (!select) { return; }
    (config().indicators || []).forEach(function (ind) {
      var opt = el("option", null, ind.label + " (" + ind.unit + ")");
      opt.value = ind.key;
      select.appendChild(opt);
    });
    (config().unavailable || []).forEach(function (ind) {
      var opt = el("option", null, ind.label + " (" + label("not_available") + ")");
      opt.value = ind.key;
      opt.disabled = true;
      select.appendChild(opt);
    });
    select.addEventListener("change", function () { setIndicator(select.value); });
    var asked = new URL(window.location.href).searchParams.get("indicator");
    state.indicator = indicatorInfo(asked) ? asked : config().indicator;
    select.value = state.indicator || "";
  }

  // ----------------------------------------------------------------------------------------- legend
  var legendControl = null;

  function swatch(colour, text, round, outline, id) {
    var row = el("div", "ictgis-legend-row");
    if (id) { row.setAttribute("data-legend", id); }
    var box = el("span", "ictgis-swatch" + (round ? " round" : ""));
    box.style.background = colour;
    if (outline) { box.style.border = (round ? "1px" : "2px") + " solid " + outline; }
    row.appendChild(box);
    row.appendChild(el("span", null, text));
    return row;
  }

  function section(parent, heading) {
    var s = el("div", "ictgis-legend-section");
    s.appendChild(el("div", "ictgis-legend-title", heading));
    parent.appendChild(s);
    return s;
  }

  function on(name) { return state.map && state.layers[name] && state.map.hasLayer(state.layers[name]); }

  // The image overlay of `key` (e.g. "coverage_4g") when it is on the map.
  function imageOn(key) {
    var found = false;
    if (state.map) {
      state.map.eachLayer(function (l) { if (l.options && l.options.ictgisKey === key) { found = true; } });
    }
    return found;
  }

  function rgba(c, opacity) {
    return "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + (c[3] / 255 * opacity).toFixed(3) + ")";
  }

  // Legend of the coverage overlay: its RSRP classes (lower bound, RGBA; strongest first) as the map shows them.
  function coverageLegend(box) {
    var info = config().coverage_legend;
    if (!info || !imageOn(info.key)) { return; }
    var s = section(box, info.title + " — RSRP (dBm)");
    info.classes.forEach(function (c, i) {
      var text = i === 0 ? "≥ " + fmt(c[0]) : fmt(c[0]) + " – < " + fmt(info.classes[i - 1][0]);
      s.appendChild(swatch(rgba(c[1], info.opacity), text));
    });
    s.appendChild(el("div", "ictgis-legend-note", label("coverage_note").replace("{dbm}", fmt(info.threshold_dbm))));
  }

  var legendOpen = !NARROW;

  // The legend grows upwards from the bottom right, at most up to the controls above it (the layer list).
  function fitLegend() {
    if (!legendControl || !state.map) { return; }
    var outer = legendControl.getContainer();
    var body = outer.querySelector(".ictgis-legend-body");
    if (!body || !legendOpen) { return; }
    var top = 0;
    var bar = document.getElementById("ictgis-bar");
    if (bar) { top = bar.getBoundingClientRect().bottom; }
    Array.prototype.forEach.call(document.querySelectorAll(".leaflet-top.leaflet-right .leaflet-control"),
      function (c) { top = Math.max(top, c.getBoundingClientRect().bottom); });
    body.style.maxHeight = "";
    var o = outer.getBoundingClientRect();
    var b = body.getBoundingClientRect();
    var room = b.height - (top + 8 - o.top);  // the body's height that keeps the legend's top below `top`
    if (room < b.height) { body.style.maxHeight = Math.max(60, room) + "px"; }
  }

  function setLegendOpen(open) {
    legendOpen = open;
    if (!legendControl) { return; }
    var box = legendControl.getContainer();
    box.classList.toggle("ictgis-folded", !open);
    var toggle = box.querySelector(".ictgis-legend-toggle");
    if (toggle) { toggle.setAttribute("aria-expanded", open ? "true" : "false"); }
    fitLegend();
  }

  function updateLegend() {
    if (!legendControl) { return; }
    var outer = legendControl.getContainer();
    outer.textContent = "";
    var toggle = el("button", "ictgis-legend-toggle", label("legend"));
    toggle.type = "button";
    toggle.addEventListener("click", function () { setLegendOpen(!legendOpen); });
    outer.appendChild(toggle);
    var box = el("div", "ictgis-legend-body");
    outer.appendChild(box);
    var info = indicatorInfo(state.indicator);
    var texts = info ? classTexts(info) : [];
    if (on("communes") && info && texts.length) {
      var s = section(box, info.label + " (" + info.unit + ")");
      var colours = palette();
      texts.forEach(function (text, i) { s.appendChild(swatch(colours[Math.min(i, colours.length - 1)], text)); });
      s.appendChild(swatch("#e0e0e0", label("no_data")));
    }
    if (on("villages")) {
      var v = section(box, label("villages"));
      var seen = {};
      state.layers.villages.eachLayer(function (l) { seen[villageStatus(l.feature.properties)] = true; });
      STATUS_ORDER.forEach(function (k) {
        if (seen[k]) { v.appendChild(swatch(STATUS[k], label(k), true, "#1a1a1a", "village-" + k)); }
      });
    }
    coverageLegend(box);
    if (on("bts_sites")) {
      var b = section(box, label("bts_sites"));
      ["5G", "4G", "3G", "2G"].forEach(function (k) { b.appendChild(swatch(TECH[k], k, true)); });
      b.appendChild(swatch("#ffffff", label("diesel_site"), true, "#000000"));
    }
    if (on("fiber_routes")) {
      var f = section(box, label("fiber_routes"));
      ["backbone", "distribution", "access"].forEach(function (k) { f.appendChild(swatch(FIBER[k], label(k))); });
    }
    if (on("post_offices")) {
      var p = section(box, label("post_offices"));
      var kinds = {};
      state.layers.post_offices.eachLayer(function (l) { kinds[l.feature.properties.kind] = true; });
      Object.keys(POST).forEach(function (k) { if (kinds[k]) { p.appendChild(swatch(POST[k], label(k), true)); } });
    }
    outer.hidden = !box.childNodes.length;
    setLegendOpen(legendOpen);
  }

  // ----------------------------------------------------------------------------------------- search
  var highlight = null;

  function loadIndex() {
    if (state.index || !config().search_url) { return Promise.resolve(state.index); }
    if (state.indexLoading) { return state.indexLoading; }
    state.indexLoading = fetch(config().search_url).then(function (r) { return r.json(); })
      .then(function (entries) { state.index = entries; return entries; });
    return state.indexLoading;
  }

  var KIND_ORDER = {commune: 0, district: 1, village: 2};

  function search(query, limit) {
    var q = fold(query);
    if (!q || !state.index) { return []; }
    var hits = [];
    state.index.forEach(function (e) {
      var pos = e[5].indexOf(q);
      if (pos < 0) { return; }
      var rank = pos === 0 ? 0 : (e[5].charAt(pos - 1) === " " ? 1 : 2);
      hits.push([rank, KIND_ORDER[e[1]] || 3, e]);
    });
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || (a[2][0] < b[2][0] ? -1 : 1); });
    return hits.slice(0, limit || 10).map(function (h) { return h[2]; });
  }

  function kindLabel(kind) {
    return kind === "commune" ? label("commune") : (kind === "district" ? label("district") : label("village"));
  }

  // Run fn once the remote layer has its features (switching the layer on if needed).
  function whenLoaded(layer, fn) {
    if (!state.map.hasLayer(layer)) { state.map.addLayer(layer); }
    if (layer.ictgisSpec.loaded) { fn(); } else { layer.once("ictgis:loaded", fn); }
  }

  // The feature a search entry names: same name, nearest to the entry's point (a village, or the commune holding it).
  function featureOf(entry, layer) {
    var target = L.latLng(entry[3], entry[4]);
    var best = null;
    var bestDistance = Infinity;
    layer.eachLayer(function (l) {
      if (l.feature.properties.name !== entry[0]) { return; }
      var d = l.getLatLng ? l.getLatLng().distanceTo(target)
        : (l.getBounds().contains(target) ? 0 : l.getBounds().getCenter().distanceTo(target));
      if (d < bestDistance) { bestDistance = d; best = l; }
    });
    return best;
  }

  function go(entry) {
    if (!state.map) { return; }
    var latlng = L.latLng(entry[3], entry[4]);
    var zoom = entry[1] === "village" ? 14 : (entry[1] === "district" ? 10 : 12);
    state.map.setView(latlng, zoom);
    if (highlight) { state.map.removeLayer(highlight); }
    // a ring only: clicks and taps go through it to the village under it
    highlight = L.circleMarker(latlng, {radius: 12, color: "#e7298a", weight: 3, fill: false, interactive: false})
      .addTo(state.map);
    var layer = state.layers[entry[1] === "village" ? "villages" : (entry[1] === "commune" ? "communes" : "")];
    if (!layer) {
      highlight.bindTooltip(el("span", null, entry[0]), {permanent: true, direction: "right"}).openTooltip();
      return;
    }
    whenLoaded(layer, function () {
      var found = featureOf(entry, layer);
      if (found) { found.openPopup(found.getLatLng ? undefined : latlng); }
    });
  }

  function setupSearch() {
    var input = document.getElementById("ictgis-search");
    var list = document.getElementById("ictgis-search-results");
    if (!input || !list) { return; }
    function show() {
      loadIndex().then(function () {
        list.textContent = "";
        var hits = search(input.value, 10);
        if (!input.value.trim()) { list.hidden = true; return; }
        if (!hits.length) {
          list.appendChild(el("li", "ictgis-none", document.getElementById("ictgis-no-match").textContent));
        }
        hits.forEach(function (e) {
          var li = el("li", "ictgis-hit");
          li.setAttribute("role", "option");
          li.appendChild(el("span", "ictgis-hit-name", e[0]));
          li.appendChild(el("small", null, " — " + kindLabel(e[1]) + (e[2] ? ", " + e[2] : "")));
          li.addEventListener("click", function () { go(e); list.hidden = true; });
          list.appendChild(li);
        });
        list.hidden = false;
      });
    }
    input.addEventListener("focus", function () { loadIndex(); });
    input.addEventListener("input", show);
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        var hits = search(input.value, 1);
        if (hits.length) { go(hits[0]); list.hidden = true; }
      } else if (ev.key === "Escape") { list.hidden = true; }
    });
  }

  // ------------------------------------------------------------------------------------------ layout
  // The bar is over the map: controls start below it, popups pan clear of it and fit the screen.
  function layout() {
    var bar = document.getElementById("ictgis-bar");
    var h = bar ? Math.ceil(bar.getBoundingClientRect().height) : 0;
    document.documentElement.style.setProperty("--ictgis-bar-h", h + "px");
    var popup = L.Popup.prototype.options;
    popup.autoPanPaddingBottomRight = L.point(10, 30);
    popup.maxWidth = Math.min(320, window.innerWidth - 60);
    popup.maxHeight = Math.max(160, window.innerHeight - h - 90);
    fitLegend();
  }

  // A popup pans clear of the bar and of the map's top controls above it (the zoom buttons, the layer list).
  function popupTopPadding(popup) {
    var box = popup._map.getContainer().getBoundingClientRect();
    var bar = document.getElementById("ictgis-bar");
    var top = bar ? bar.getBoundingClientRect().bottom : box.top;
    var r = popup._container ? popup._container.getBoundingClientRect() : null;
    Array.prototype.forEach.call(document.querySelectorAll(".leaflet-top .leaflet-control"), function (c) {
      var cr = c.getBoundingClientRect();
      if (r && cr.width && cr.right > r.left - 10 && cr.left < r.right + 10) { top = Math.max(top, cr.bottom); }
    });
    return Math.max(0, top - box.top) + 8;
  }

  var adjustPan = L.Popup.prototype._adjustPan;
  L.Popup.prototype._adjustPan = function () {
    if (this._map && this.options.autoPan) {
      this.options.autoPanPaddingTopLeft = L.point(10, popupTopPadding(this));
    }
    return adjustPan.apply(this, arguments);
  };

  // On a phone the layer list is a button that opens it (a tap on the map closes it).
  L.Control.Layers.addInitHook(function () {
    if (NARROW) { this.options.collapsed = true; }
  });

  // ------------------------------------------------------------------------------------------- start
  L.Map.addInitHook(function () {
    if (state.map) { return; }
    state.map = this;
    var map = this;
    // Images (terrain, coverage) under the vector layers; the vectors share one canvas, so that every feature
    // can be clicked (a canvas per pane would hide the ones below), and are restacked as they arrive.
    map.createPane("ictgis-terrain").style.zIndex = "350";
    legendControl = L.control({position: "bottomright"});
    legendControl.onAdd = function () {
      var div = L.DomUtil.create("div", "ictgis-legend");
      L.DomEvent.disableClickPropagation(div);
      // Leaflet makes a double tap of two clicks reaching the map: taps on the legend must not zoom it
      L.DomEvent.on(div, "click", L.DomEvent.stopPropagation);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legendControl.addTo(map);
    map.on("overlayadd overlayremove", updateLegend);
    window.setTimeout(function () { state.started = true; layout(); markReady(); }, 0);
  });

  window.addEventListener("resize", layout);

  document.addEventListener("DOMContentLoaded", function () {
    layout();
    setupSelector();
    setupSearch();
    setIndicator(state.indicator, true);
  });

  window.ictgis = {remoteLayer: remoteLayer, fold: fold, search: search, loadIndex: loadIndex,
    setIndicator: setIndicator, state: state, classOf: classOf, quantileBreaks: quantileBreaks, go: go,
    palettes: {ramp: RAMP, neutral: NEUTRAL, noData: "#e0e0e0", status: STATUS}, setLegendOpen: setLegendOpen};
}());
