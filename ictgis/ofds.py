"""The Open Fibre Data Standard (OFDS 0.4): a fiber network written as OFDS JSON, and read back as fiber_routes.

Export (`network_package`, `write`; ``ictgis export-ofds DATA_DIR --out FILE`` and ``ictgis fiber … --ofds FILE``)
writes one network in a package ``{"networks": [network]}``:

spans
    One per fiber route: ``status`` ``operational`` (existing routes) or ``planned`` (segments of a fiber plan),
    ``fibreLength`` (km, 3 decimals, measured in the working CRS), ``deployment`` ``["aboveGround"]`` (aerial) or
    ``["belowGround"]`` (underground; omitted when unknown), ``transmissionMediumOwner`` (the route's operator, an
    organisation of the network), ``route`` (a GeoJSON LineString in CRS84: longitude, latitude) and ``start`` /
    ``end`` (the nodes at its two ends).
nodes
    Points of presence (``type`` ``["pointOfPresence"]``; the ``pops`` file of ``ictgis fiber --pops``), BTS sites
    within ``tap_m`` of a route (``["site"]``), villages with fiber (``["village"]``) and the junctions at route
    ends and where nodes tap a route (no type, as the standard asks for pure junctions). Ids: ``pop:<id>``,
    ``site:<id>``, ``village:<id>``, ``junction:<n>``. With a plan, the villages it connects are nodes with status
    ``planned``. Each point node is tapped into its nearest route: the route
    is cut there into spans (``<id>``, ``<id>#2`` …, each named ``<id>``) and a straight *drop* span (``drop:<node
    id>``) joins the tap to the node, so every node is on the network.

Multi-part routes are written one span per part (``<id>#k`` as above). The network id is a UUID derived from the
network name (the same name gives the same id).

Import (`read_spans`): an OFDS JSON file (a package, or a single network) becomes a fiber_routes layer: ``id``,
``install`` (from ``deployment``), ``operator`` (the owner's name), ``status`` (``existing`` or ``planned``) and
the route geometry, in CRS84; the spans of one route (same ``name``) are merged back, and ictgis's drop spans
(``drop:…``) are not routes and are skipped. The layer reader (`ictgis.io.read_layer`) does this for every
``.json`` file holding OFDS data, so ``fiber_routes.json`` in a data folder is read as OFDS.

Validation (`validate`) runs the standard's own validator, ``libcoveofds`` (JSON Schema and its additional checks).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops

from . import settings
from ._errors import LayerError, Problem

logger = logging.getLogger(__name__)

SCHEMA_URL = "https://standard.ofds.info/en/0__4__0/network-schema.json"
CRS84 = {"name": "urn:ogc:def:crs:OGC::CRS84", "uri": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
DEPLOYMENT = {"aerial": "aboveGround", "underground": "belowGround"}
INSTALL_OF = {v: k for k, v in DEPLOYMENT.items()}
STATUS = {"existing": "operational", "planned": "planned"}
#: OFDS span statuses read as existing network (others — planned, proposed, under construction — as planned).
EXISTING_STATUSES = frozenset({"operational", "inactive"})
NAMESPACE = uuid.UUID("6f1c1c9e-3d8e-4b7e-9f0a-1c7d2a0e5b11")
JUNCTION_DECIMALS = 0
"""Route ends rounded to this many decimals of a metre (working CRS) meet at one junction node."""


def _org_id(name: str) -> str:
    return "org-" + "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def _to_lonlat(frame: gpd.GeoDataFrame) -> np.ndarray:
    return frame.to_crs(settings.display_crs).geometry.to_numpy()


def network_package(routes: gpd.GeoDataFrame | None, *, planned: gpd.GeoDataFrame | None = None,
                    pops: gpd.GeoDataFrame | None = None, sites: gpd.GeoDataFrame | None = None,
                    villages: gpd.GeoDataFrame | None = None, planned_villages: Iterable[str] = (),
                    name: str = "ictgis fiber network",
                    publisher: str | None = None, tap_m: float = 100.0, planned_operator: str = "planned"
                    ) -> dict:
    """Return an OFDS package holding one network built from ictgis layers.

    Parameters
    ----------
    routes
        Existing fiber routes (fiber_routes layer: ``id``, optional ``install``, ``operator``), projected CRS.
    planned
        Planned segments (a fiber plan's ``plan`` layer, or `ictgis.fiber.planned_routes`: ``seg_id`` or ``id``,
        ``install``), written with status ``planned``.
    pops
        Points of presence (``id``, optional ``name``, ``operator``).
    sites
        BTS sites; those within `tap_m` of a route become nodes.
    villages
        Villages; those with ``fiber`` true become nodes.
    planned_villages
        Ids of villages the plan connects: nodes too, with status ``planned`` (as their drop spans).
    name
        Network name (its UUID derives from it).
    publisher
        Publisher's name (default: the network name).
    tap_m
        Largest distance (m) from a site to a route for the site to be a node of the network.
    planned_operator
        Owner written for planned segments that have no operator.

    Returns
    -------
    dict
        ``{"networks": [network]}``, JSON-ready.
    """
    frames = []
    for status, frame in (("existing", routes), ("planned", planned)):
        if frame is None or len(frame) == 0:
            continue
        f = frame.copy()
        if "id" not in f:
            f["id"] = [f"PLAN-{s}" for s in f["seg_id"]] if "seg_id" in f else [f"{status}-{i + 1}"
                                                                                for i in range(len(f))]
        f["operator"] = f.get("operator", planned_operator if status == "planned" else None)
        if status == "planned":
            f["operator"] = f["operator"].fillna(planned_operator)
        f["install"] = f.get("install", None)
        f["status"] = status
        frames.append(gpd.GeoDataFrame(f[["id", "operator", "install", "status"]].assign(id=f["id"].astype(str)),
                                       geometry=f.geometry.to_numpy(), crs=f.crs))
    crs = next((f.crs for f in frames), None) or next((x.crs for x in (pops, sites, villages) if x is not None),
                                                      settings.working_crs)
    lines = (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
             if frames else gpd.GeoDataFrame({"id": [], "operator": [], "install": [], "status": []},
                                              geometry=[], crs=crs))
    lines = lines.explode(index_parts=False, ignore_index=True)
    lines = lines[~lines.geometry.is_empty & lines.geometry.notna()].reset_index(drop=True)
    part = lines.groupby("id").cumcount().to_numpy()
    lines["span_id"] = [str(i) if p == 0 else f"{i}#{p + 1}" for i, p in zip(lines["id"], part, strict=True)]

    orgs: dict[str, str] = {}
    nodes: list[dict] = []

    def node(node_id: str, point_lonlat, kind: str | None, node_name: str | None = None, operator=None,
             status: str = "operational") -> None:
        rec: dict = {"id": node_id, "status": status,
                     "location": {"type": "Point", "coordinates": [round(point_lonlat.x, 7),
                                                                   round(point_lonlat.y, 7)]}}
        if node_name:
            rec["name"] = str(node_name)
        if kind:
            rec["type"] = [kind]
        if operator is not None and str(operator).strip() and str(operator) != "nan":
            rec["networkProviders"] = [{"id": _org(str(operator)), "name": str(operator)}]
        nodes.append(rec)

    def _org(op: str) -> str:
        orgs.setdefault(_org_id(op), op)
        return _org_id(op)

    # Nodes of points of presence, sites near a route and villages with fiber; each tapped into its nearest route.
    geoms = lines.geometry.to_numpy()
    tree = shapely.STRtree(geoms) if len(lines) else None
    point_nodes: list[tuple[str, Any, str, Any, Any]] = []  # (id, point, type, name, operator)
    planned_ids = {str(v) for v in planned_villages}
    planned_nodes = {f"village:{v}" for v in planned_ids}
    for prefix, frame, kind in (("pop", pops, "pointOfPresence"), ("site", sites, "site"),
                                ("village", villages, "village")):
        if frame is None or len(frame) == 0:
            continue
        f = frame.to_crs(crs) if frame.crs is not None and frame.crs != crs else frame
        if prefix == "site":
            if tree is None:
                continue
            near = tree.query(f.geometry.to_numpy(), predicate="dwithin", distance=tap_m)[0]
            f = f.iloc[np.unique(near)]
        elif prefix == "village":
            if "fiber" not in f:
                f = f.assign(fiber=False)
            f = f[f["fiber"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                  | f["id"].astype(str).isin(planned_ids).to_numpy()]
        ids = f["id"].astype(str).to_numpy() if "id" in f else [str(i + 1) for i in range(len(f))]
        names = f["name"].astype(str).to_numpy() if "name" in f else [None] * len(f)
        ops = f["operator"].to_numpy() if "operator" in f else [None] * len(f)
        for nid, pt, nm, op in zip(ids, shapely.point_on_surface(f.geometry.to_numpy()), names, ops, strict=True):
            point_nodes.append((f"{prefix}:{nid}", pt, kind, nm, op))
    cuts: dict[int, list[float]] = {}
    drops: list[tuple[str, int, float]] = []  # (node id, line, distance along)
    if tree is not None and point_nodes:
        pts = np.array([p[1] for p in point_nodes], dtype=object)
        idx = tree.query_nearest(pts, all_matches=False)
        line_of = np.empty(len(pts), dtype=np.int64)
        line_of[idx[0]] = idx[1]
        along = shapely.line_locate_point(geoms[line_of], pts)
        for (nid, *_), li, d in zip(point_nodes, line_of.tolist(), along.tolist(), strict=True):
            cuts.setdefault(li, []).append(d)
            drops.append((nid, li, d))
    pieces: list[tuple[int, Any]] = []  # (line, geometry)
    for i, g in enumerate(geoms):
        length = g.length
        marks = sorted({0.0, length, *(d for d in cuts.get(i, []) if 1.0 < d < length - 1.0)})
        if len(marks) == 2:
            pieces.append((i, g))
        else:
            pieces.extend((i, shapely.ops.substring(g, a, b)) for a, b in zip(marks[:-1], marks[1:], strict=True))
    junction_of: dict[tuple, str] = {}
    junction_xy: list = []

    def junction(xy) -> str:
        key = tuple(np.round(xy, JUNCTION_DECIMALS).tolist())
        if key not in junction_of:
            junction_of[key] = f"junction:{len(junction_of) + 1}"
            junction_xy.append(xy)
        return junction_of[key]

    piece_ends = [(junction(shapely.get_coordinates(g)[0]), junction(shapely.get_coordinates(g)[-1]))
                  for _, g in pieces]
    drop_ends = [junction(shapely.get_coordinates(shapely.line_interpolate_point(geoms[li], d))[0])
                 for _, li, d in drops]
    if junction_xy:
        for jid, pt in zip(junction_of.values(), gpd.GeoSeries(shapely.points(np.array(junction_xy)), crs=crs)
                           .to_crs(settings.display_crs), strict=True):
            node(jid, pt, None)
    if point_nodes:
        lonlat_pts = gpd.GeoSeries(np.array([p[1] for p in point_nodes], dtype=object), crs=crs).to_crs(
            settings.display_crs)
        for (nid, _, kind, nm, op), pt in zip(point_nodes, lonlat_pts, strict=True):
            node(nid, pt, kind, nm, op, status="planned" if nid in planned_nodes else "operational")

    def coords(geom) -> list:
        return [[round(x, 7), round(y, 7)] for x, y in shapely.get_coordinates(geom).tolist()]

    spans: list[dict] = []
    if pieces:
        piece_ll = gpd.GeoSeries([g for _, g in pieces], crs=crs).to_crs(settings.display_crs).to_numpy()
        count: dict[str, int] = {}
        for (li, g), (a, b), ll in zip(pieces, piece_ends, piece_ll, strict=True):
            row = lines.iloc[li]
            k = count[row["id"]] = count.get(row["id"], 0) + 1
            rec: dict = {"id": row["id"] if k == 1 else f"{row['id']}#{k}", "name": str(row["id"]),
                         "status": STATUS[row["status"]], "start": a, "end": b,
                         "fibreLength": round(float(g.length) / 1000.0, 3),
                         "route": {"type": "LineString", "coordinates": coords(ll)}}
            if row["install"] in DEPLOYMENT:
                rec["deployment"] = [DEPLOYMENT[row["install"]]]
            op = row["operator"]
            if op is not None and not (isinstance(op, float) and np.isnan(op)) and str(op).strip():
                rec["transmissionMediumOwner"] = {"id": _org(str(op)), "name": str(op)}
            spans.append(rec)
    if drops:
        node_pt = {p[0]: p[1] for p in point_nodes}
        taps = shapely.line_interpolate_point(geoms[[li for _, li, _ in drops]], [d for _, _, d in drops])
        ends = np.array([node_pt[nid] for nid, _, _ in drops], dtype=object)
        drop_lines = shapely.linestrings(np.stack([shapely.get_coordinates(taps), shapely.get_coordinates(ends)],
                                                  axis=1))
        drop_ll = gpd.GeoSeries(drop_lines, crs=crs).to_crs(settings.display_crs).to_numpy()
        for (nid, li, _), jid, g, ll in zip(drops, drop_ends, drop_lines, drop_ll, strict=True):
            status = "planned" if nid in planned_nodes else lines.iloc[li]["status"]
            spans.append({"id": f"drop:{nid}", "name": "drop", "status": STATUS[status],
                          "start": jid, "end": nid, "fibreLength": round(float(g.length) / 1000.0, 3),
                          "route": {"type": "LineString", "coordinates": coords(ll)}})
    network = {
        "id": str(uuid.uuid5(NAMESPACE, name)),
        "name": name,
        "links": [{"rel": "describedby", "href": SCHEMA_URL}],
        "crs": dict(CRS84),
        "publisher": {"name": publisher or name},
        "language": "vi",
        "nodes": nodes,
        "spans": spans,
    }
    if orgs:  # the standard refuses an empty list
        network["organisations"] = [{"id": oid, "name": oname} for oid, oname in sorted(orgs.items())]
    return {"networks": [network]}


def write(package: dict, path: str | Path) -> Path:
    """Write an OFDS package as UTF-8 JSON, atomically."""
    from ._files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(package, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def validate(package: dict) -> list[dict]:
    """Return the problems the standard's validator (``libcoveofds``) finds: schema errors and additional checks.

    Each problem is a dict (``message``/``path`` for schema errors, ``type`` … for the additional checks); an empty
    list means valid.

    Raises
    ------
    ImportError
        When libcoveofds is not installed (the ``ofds`` extra: ``pip install 'ictgis[ofds]'``).
    """
    try:
        from libcoveofds.jsonschemavalidate import JSONSchemaValidator
        from libcoveofds.python_validate import PythonValidate
        from libcoveofds.schema import OFDSSchema
    except ImportError as exc:
        raise ImportError("validating OFDS needs libcoveofds: pip install 'ictgis[ofds]'") from exc

    schema = OFDSSchema()
    problems = [e.json() for e in JSONSchemaValidator(schema).validate(package)]
    problems += list(PythonValidate(schema).validate(package))
    return problems


def is_ofds(path: str | Path) -> bool:
    """Whether a ``.json`` file holds OFDS data (a package with ``networks`` or a network with ``spans``)."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with open(path, "rb") as f:
        head = f.read(65536).decode("utf-8", "replace")
    return ('"networks"' in head or '"spans"' in head) and '"FeatureCollection"' not in head


def read_spans(path: str | Path) -> gpd.GeoDataFrame:
    """Read the spans of an OFDS JSON file as fiber routes (CRS84): ``id``, ``install``, ``operator``, ``status``.

    Spans without a ``route`` are skipped with a log message; a package of several networks gives all their spans.

    Raises
    ------
    LayerError
        When the file is not OFDS JSON or uses another CRS than CRS84.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayerError(f"{path.name}: not readable as JSON", [Problem(path.name, str(exc))]) from None
    networks = data.get("networks") if isinstance(data, dict) and "networks" in data else [data]
    if not isinstance(networks, list) or not all(isinstance(n, dict) for n in networks):
        raise LayerError(f"{path.name}: not an OFDS file", [Problem(path.name, "expected 'networks': [ … ]")])
    rows, geoms, skipped = [], [], 0
    for net in networks:
        crs = (net.get("crs") or {}).get("name", CRS84["name"])
        if crs not in (CRS84["name"], "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"):
            raise LayerError(f"{path.name}: unsupported CRS", [Problem(path.name, f"network CRS {crs!r}: only "
                                                                                   "CRS84 (longitude, latitude)")])
        for span in net.get("spans") or []:
            if str(span.get("id", "")).startswith("drop:"):
                continue  # ictgis's drop from a route to a node, not a route
            route = span.get("route") or {}
            coords = route.get("coordinates")
            if route.get("type") != "LineString" or not coords or len(coords) < 2:
                skipped += 1
                continue
            deployment = span.get("deployment") or []
            install = INSTALL_OF.get(deployment[0]) if len(deployment) == 1 else None
            owner = span.get("transmissionMediumOwner") or {}
            status = span.get("status")
            rows.append({"id": str(span.get("name") or span.get("id")) if "#" in str(span.get("id", "")) else
                         str(span.get("id")), "install": install, "operator": owner.get("name"),
                         "status": None if status is None else
                         "existing" if status in EXISTING_STATUSES else "planned"})
            geoms.append(shapely.LineString([c[:2] for c in coords]))
    if skipped:
        logger.info("%s: %d spans without a route were skipped", path.name, skipped)
    frame = gpd.GeoDataFrame(rows or {"id": [], "install": [], "operator": [], "status": []},
                             geometry=geoms, crs="OGC:CRS84")
    if frame["id"].duplicated().any():  # a route written as several spans
        frame = frame.dissolve(by="id", as_index=False, sort=False, aggfunc="first")
        frame["geometry"] = shapely.line_merge(frame.geometry.to_numpy())
    return frame
