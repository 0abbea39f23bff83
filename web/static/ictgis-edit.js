// Editing on the map (planners): an "Edit" mode in which a click on a BTS site, a post office or a village opens a
// form with its attributes (save / delete), the selected point can be dragged to move it, and "add a site / post
// office here" places a new one. Each save is a changeset of the store (/api/features/<layer>/<key>) with the
// version the planner saw; a save sends only the fields the planner changed. A 409 shows who won and what they
// changed, fills the form with the current values plus the fields this planner changed, and a second save (the
// planner's confirmation) applies only those on top (nothing is lost, the winner's changes are not undone). Additive: it only reads window.ictgis.state (the map, layers).
(function () {
  "use strict";
  var box = document.getElementById("ictgis-edit");
  if (!box) { return; }
  var words = JSON.parse(document.getElementById("edit-words").textContent);
  var api = box.getAttribute("data-api");
  var csrf = box.getAttribute("data-csrf");
  var toggle = document.getElementById("edit-toggle");
  var body = document.getElementById("edit-body");
  var form = document.getElementById("edit-form");
  var fields = document.getElementById("edit-fields");
  var titleEl = document.getElementById("edit-title");
  var statusEl = document.getElementById("edit-status");
  var message = document.getElementById("edit-message");
  var del = document.getElementById("edit-delete");
  var EDITABLE = ["bts_sites", "post_offices", "villages"];
  // the attributes a planner changes on the map, per layer: [name, kind, choices]
  var FIELDS = {
    bts_sites: [["operator", "text"], ["tech", "text"], ["power", "select", ["", "grid", "diesel", "solar"]],
                ["height_m", "number"], ["band_mhz", "number"], ["tower", "text"]],
    post_offices: [["name", "text"], ["kind", "select", ["cap1", "cap2", "cap3", "kt1", "large_cust", "letterbox",
                                                         "bdvhx", "other"]]],
    villages: [["fiber", "checkbox"]]
  };
  var state = {active: false, layer: null, key: null, version: null, isNew: false, marker: null, moved: false,
               adding: null, saved: 0, lastStatus: null, original: null, conflicted: false};
  window.ictgisEdit = state;

  function map() { return window.ictgis && window.ictgis.state && window.ictgis.state.map; }
  function url(layer, key) {
    return api.replace("LAYER", encodeURIComponent(layer)).replace("KEY", encodeURIComponent(key));
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function say(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "edit-status" + (kind ? " " + kind : "");
  }

  function buildFields(layer, attrs) {
    fields.innerHTML = "";
    if (state.isNew) {
      var idLabel = el("label", null, words.field_id + " ");
      var id = el("input");
      id.name = "__key"; id.required = true; id.id = "edit-key";
      idLabel.appendChild(id);
      fields.appendChild(idLabel);
    }
    FIELDS[layer].forEach(function (f) {
      var label = el("label", null, (words["field_" + f[0]] || f[0]) + " ");
      var input;
      if (f[1] === "select") {
        input = el("select");
        f[2].forEach(function (v) {
          var o = el("option", null, v === "" ? "—" : (words["value_" + v] || v));
          o.value = v; input.appendChild(o);
        });
      } else {
        input = el("input");
        input.type = f[1];
        if (f[1] === "number") { input.step = "any"; input.inputMode = "decimal"; }
      }
      input.name = f[0];
      input.id = "edit-" + f[0];
      fill(input, attrs[f[0]]);
      label.appendChild(input);
      fields.appendChild(label);
    });
  }
  function fill(input, value) {
    if (input.type === "checkbox") { input.checked = value === true; } else {
      input.value = value === null || value === undefined ? "" : String(value);
    }
  }
  function values() {
    var out = {};
    FIELDS[state.layer].forEach(function (f) {
      var input = document.getElementById("edit-" + f[0]);
      if (f[1] === "checkbox") { out[f[0]] = input.checked; } else if (f[1] === "number") {
        out[f[0]] = input.value === "" ? null : Number(input.value);
      } else { out[f[0]] = input.value === "" ? null : input.value; }
    });
    return out;
  }
  // the fields whose form value differs from `base` (the values the planner started from)
  function changed(now, base) {
    var out = {};
    Object.keys(now).forEach(function (k) { if (now[k] !== base[k]) { out[k] = now[k]; } });
    return out;
  }
  function shown(v) {
    if (v === null || v === undefined || v === "") { return "—"; }
    if (v === true) { return "✓"; }
    if (v === false) { return "✗"; }
    return words["value_" + v] || String(v);
  }
  function fieldName(k) { return words["field_" + k] || k; }

  function dropMarker() {
    if (state.marker) { map().removeLayer(state.marker); state.marker = null; }
  }
  function putMarker(latlng) {
    dropMarker();
    state.marker = L.marker(latlng, {draggable: true, title: "edit", autoPan: true}).addTo(map());
    state.marker.on("dragend", function () { state.moved = true; say(words.moved); });
  }

  function open(layer, key, feature) {
    state.layer = layer; state.key = key; state.isNew = false; state.moved = false;
    state.version = feature.version;
    titleEl.textContent = (words["layer_" + layer] || layer) + " " + key + " · " + words.version + " " +
      feature.version;
    buildFields(layer, feature.attributes);
    state.original = values();  // what the planner saw, as the form reads it: a save sends only what differs
    state.conflicted = false;
    form.removeAttribute("data-conflict");
    document.getElementById("edit-save").textContent = words.save;
    del.hidden = layer === "villages";
    form.hidden = false;
    form.setAttribute("data-layer", layer);
    form.setAttribute("data-key", key);
    say("");
    if (feature.lat !== null && layer !== "villages") { putMarker([feature.lat, feature.lon]); } else { dropMarker(); }
  }

  function openNew(layer, latlng) {
    state.layer = layer; state.key = null; state.isNew = true; state.moved = true; state.version = null;
    titleEl.textContent = words.new_feature + ": " + (words["layer_" + layer] || layer);
    buildFields(layer, layer === "bts_sites" ? {operator: "", tech: "4G", power: "grid"} : {kind: "bdvhx"});
    del.hidden = true;
    form.hidden = false;
    form.setAttribute("data-layer", layer);
    form.removeAttribute("data-key");
    say(words.drag_hint);
    putMarker(latlng);
  }

  function select(layer, key) {
    fetch(url(layer, key), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { throw new Error(j.message); } return j; }); })
      .then(function (feature) { open(layer, key, feature); })
      .catch(function (err) { say(words.failed + ": " + err.message, "error"); form.hidden = false; });
  }

  function reload(layerName, changeset) {
    var layer = window.ictgis.state.layers[layerName];
    if (!layer || !layer.ictgisSpec) { return Promise.resolve(); }
    var spec = layer.ictgisSpec.url;
    var fresh = spec + (spec.indexOf("?") >= 0 ? "&" : "?") + "edit=" + changeset;
    return fetch(fresh, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (gj) { layer.clearLayers(); layer.addData(gj); });
  }

  function send(method, body) {
    var key = state.isNew ? document.getElementById("edit-key").value.trim() : state.key;
    if (!key) { say(words.need_id, "error"); return; }
    if (!message.value.trim()) { say(words.need_message, "error"); message.focus(); return; }
    body.message = message.value.trim();
    var layerName = state.layer;
    say(words.saving);
    return fetch(url(layerName, key), {method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return {status: r.status, body: j}; }); })
      .then(function (res) {
        state.lastStatus = res.status;
        if (res.status === 409) { return conflict(res.body); }
        if (res.status >= 400) {
          var problems = (res.body.problems || []).join("; ");
          say((res.body.message || res.status) + (problems ? ": " + problems : ""), "error");
          return;
        }
        state.saved += 1;
        var cs = res.body.changeset;
        var feature = res.body.feature;
        message.value = "";
        if (feature) { open(layerName, key, feature); } else { form.hidden = true; dropMarker(); }
        say(cs ? words.saved + " #" + cs.id : words.unchanged, "ok");
        form.setAttribute("data-saved", String(state.saved));
        return reload(layerName, cs ? cs.id : Date.now());
      })
      .catch(function (err) { say(words.failed + ": " + err.message, "error"); });
  }

  // A 409: another planner saved first. The form is rebuilt from the current version (theirs), the fields this
  // planner changed are put back on top (only those), the message names what the other planner changed, and the
  // planner must look and Save again to confirm; that save sends only this planner's changed fields.
  function conflict(body) {
    var current = body.current;
    if (!current) { say(body.message + " " + words.deleted, "error conflict"); return; }
    if (state.isNew) {  // the key is taken: nothing to merge
      say(body.message + " " + words.current_is + ": " + words.version + " " + current.version, "error conflict");
      return;
    }
    var mine = state.isNew ? {} : changed(values(), state.original);
    var seen = state.original;
    var keepMarker = state.moved && state.marker ? state.marker.getLatLng() : null;
    state.version = current.version;
    buildFields(state.layer, current.attributes);
    var theirs = values();
    var theirChanges = state.isNew ? {} : changed(theirs, seen);
    Object.keys(mine).forEach(function (k) {
      fill(document.getElementById("edit-" + k), mine[k]);
    });
    state.original = theirs;  // the next save sends what differs from the current version: this planner's edits
    Object.keys(theirChanges).forEach(function (k) {
      var input = document.getElementById("edit-" + k);
      input.parentNode.classList.add(k in mine ? "edit-both" : "edit-theirs");
      input.parentNode.setAttribute("title", words.current_is + ": " + shown(theirs[k]));
    });
    titleEl.textContent = (words["layer_" + state.layer] || state.layer) + " " + state.key + " · " + words.version +
      " " + current.version;
    if (!keepMarker && current.lat !== null && state.layer !== "villages") {
      putMarker([current.lat, current.lon]);
      state.moved = false;
    }
    var who = body.by || words.someone;
    var did = Object.keys(theirChanges).map(function (k) {
      return fieldName(k) + ": " + shown(seen[k]) + " → " + shown(theirs[k]);
    });
    var both = Object.keys(theirChanges).filter(function (k) { return k in mine; });
    var yours = Object.keys(mine).filter(function (k) { return both.indexOf(k) < 0; }).map(function (k) {
      return fieldName(k) + ": " + shown(mine[k]);
    });
    var lines = [words.conflict_title,
      who + " " + words.conflict_by + " (" + words.version + " " + current.version + "): " +
        (did.length ? did.join("; ") : words.conflict_nothing) + ".",
      yours.length ? words.conflict_yours + ": " + yours.join("; ") + "." :
        (both.length ? "" : words.conflict_none_yours)];
    if (both.length) { lines.push(words.conflict_both + ": " + both.map(fieldName).join(", ") + "."); }
    lines.push(words.conflict_confirm);
    statusEl.innerHTML = "";
    lines.filter(function (t) { return t; }).forEach(function (t) { statusEl.appendChild(el("span", null, t)); });
    statusEl.className = "edit-status error conflict";
    state.conflicted = true;
    form.setAttribute("data-conflict", String(current.version));
    document.getElementById("edit-save").textContent = words.save_again;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    // an edit sends only the fields the planner changed (the API merges them into the current version)
    var body = {attributes: state.isNew ? values() : changed(values(), state.original)};
    if (state.moved && state.marker) {
      var ll = state.marker.getLatLng();
      body.geometry = {type: "Point", coordinates: [ll.lng, ll.lat]};
    }
    if (state.isNew) { send("POST", body); } else { body.expected_version = state.version; send("PATCH", body); }
  });
  del.addEventListener("click", function () {
    if (!window.confirm(words.confirm_delete)) { return; }
    send("DELETE", {expected_version: state.version});
  });
  document.getElementById("edit-cancel").addEventListener("click", function () {
    form.hidden = true; dropMarker(); state.layer = null; say("");
  });
  ["edit-add-site", "edit-add-post"].forEach(function (id) {
    document.getElementById(id).addEventListener("click", function (e) {
      state.adding = e.currentTarget.getAttribute("data-layer");
      say(words.click_to_add);
      form.hidden = true;
      document.getElementById("edit-hint").textContent = words.click_to_add;
    });
  });

  function setActive(on) {
    state.active = on;
    body.hidden = !on;
    toggle.setAttribute("aria-expanded", on ? "true" : "false");
    box.classList.toggle("active", on);
    var planner = window.ictgisPlanner;
    var plannerToggle = document.getElementById("planner-toggle");
    if (on && planner && planner.active && plannerToggle) { plannerToggle.click(); }  // one click mode at a time
    if (on) {  // the layers edited here are shown while editing
      var layers = window.ictgis.state.layers;
      ["bts_sites", "post_offices"].forEach(function (name) {
        if (layers[name] && !map().hasLayer(layers[name])) { map().addLayer(layers[name]); }
      });
    }
    if (!on) { dropMarker(); form.hidden = true; state.adding = null; }
  }
  toggle.addEventListener("click", function () { setActive(!state.active); });

  function onFeatureClick(layerName) {
    return function (e) {
      if (!state.active || state.adding) { return; }
      var feature = e.layer && e.layer.feature;
      if (!feature || !feature.properties) { return; }
      L.DomEvent.stop(e);
      map().closePopup();
      select(layerName, String(feature.properties.id));
    };
  }

  function attach() {
    var m = map();
    var layers = window.ictgis && window.ictgis.state && window.ictgis.state.layers;
    if (!m || !layers || !layers.bts_sites) { window.setTimeout(attach, 100); return; }
    var Control = L.Control.extend({options: {position: "topleft"}, onAdd: function () { return box; }});
    new Control().addTo(m);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    EDITABLE.forEach(function (name) { if (layers[name]) { layers[name].on("click", onFeatureClick(name)); } });
    m.on("click", function (e) {
      if (!state.active || !state.adding) { return; }
      var layer = state.adding;
      state.adding = null;
      document.getElementById("edit-hint").textContent = words.hint;
      openNew(layer, e.latlng);
    });
    m.on("popupopen", function () { if (state.active) { m.closePopup(); } });
    box.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", attach); } else { attach(); }
}());
