"""OGC API – Features (Part 1 Core) at ``/ogc/``: the served layers for QGIS, ArcGIS Pro, GDAL and OWSLib.

pygeoapi does the protocol (landing page, conformance, collections, items with ``bbox``, ``limit``/``offset``
paging and next/prev links, single items, ``datetime``, the OpenAPI document, HTML pages for browsers); this module
gives it a configuration built in code per served dataset and a provider, `IctgisProvider`, that serves ictgis
layers. pygeoapi's own Flask app (``pygeoapi.flask_app``) is not used: it reads ``PYGEOAPI_CONFIG`` and
``PYGEOAPI_OPENAPI`` files at import time and keeps one process-wide configuration, whereas each ictgis app has its
own data, instance and base URL. Here the blueprint calls ``pygeoapi.api`` functions with a `pygeoapi.api.API`
built from a dict, so no environment variable and no configuration file are involved.

Data flow: `served_dataset` (the **one swap point**: the app's store, see `web.data`; the current changeset's
dataset, or ``store.dataset(as_of=...)`` for a ``datetime``) → `layer_index` (per served dataset and layer: GeoJSON
features in CRS84, their bounds, an id lookup; built once, read by many threads, never modified) → `IctgisProvider`
(slices of it) → pygeoapi (JSON) → answers of 200 kept per served dataset and base URL (`ANSWERS_MAX_BYTES`, least
recently used dropped first) with weak ETags, so pages that clients ask again are not computed again. Features:
``id`` is the layer's key (``id`` or ``code``; roads without unique ids get their 1-based row number), properties
are the schema's attributes (text NFC, numbers as numbers, booleans as booleans, missing as null), geometry in CRS84
rounded to 7 decimals (about 1 cm).

``datetime``: each collection's temporal extent begins with the store's first changeset and is open at the end. A
``datetime`` instant (or an interval's end) is answered with the state of the store as of then: the last changeset
made at or before it (a feature added later is absent, one deleted later is present, with its old attributes and
place). One wholly before the first changeset is a 400 ("out of range").

Configuration (``create_app``): ``OGC_LIMIT_DEFAULT`` (100) items per page when the client gives no ``limit``;
``OGC_LIMIT_MAX`` (10,000) the largest page (a larger ``limit`` is lowered to it, as OGC API – Features allows).
Access follows the map (`web.auth`): public when ``PUBLIC_VIEW`` is True, else a logged-in session or HTTP Basic
credentials (`web.basicauth`); anonymous requests get 401 JSON with a Basic challenge.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import secrets
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import shapely
from cachetools import LRUCache
from flask import Blueprint, Flask, Response, current_app, has_request_context, make_response, request

from ictgis import io
from ictgis.crs import to_crs
from ictgis.layers import SCHEMAS
from ictgis.store.refs import as_of_instant

from . import data

logger = logging.getLogger(__name__)

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
LIMIT_DEFAULT = 100
LIMIT_MAX = 10_000
DECIMALS = 7  # degrees: about 1 cm
_TYPES = {"str": "string", "enum": "string", "int": "integer", "float": "number", "bool": "boolean"}
_API_CACHE_SIZE = 8  # base URLs (host names a client used) kept per app
#: Bytes of answers kept per served dataset and base URL (pages asked again are not computed again).
ANSWERS_MAX_BYTES = 32 * 1024 * 1024
_lock = threading.Lock()


# --------------------------------------------------------------------------------------------- the swap point
@dataclass(frozen=True)
class Served:
    """The layers an as-of query sees.

    Attributes
    ----------
    dataset
        The layers, in the working CRS.
    valid_from
        Since when this data is known (UTC): the start of every collection's temporal extent.
    """

    dataset: io.Dataset
    valid_from: datetime


class NoHistoryError(ValueError):
    """An as-of time before the served data's first known state."""


def served_dataset(*, as_of: datetime | None = None) -> Served:
    """Return the layers as they were at `as_of` (None: now) — the one place the versioned store plugs in.

    The app's store (`web.data`): now is the served changeset's dataset (`web.data.dataset`); an earlier instant
    is the state of the last changeset made at or before it (`web.data.dataset_at`, a few kept per process).
    `valid_from` is the time of the store's first changeset. The caches here are keyed by the identity of the
    returned `io.Dataset`: the same object while nothing changed, a new one after each changeset.

    Raises
    ------
    NoHistoryError
        When `as_of` is before the store's first changeset.
    """
    valid_from = _valid_from()
    if as_of is not None and as_of < valid_from:
        raise NoHistoryError(f"no data before {valid_from.isoformat()}: the store's first changeset")
    if as_of is None:
        return Served(dataset=data.dataset(), valid_from=valid_from)
    held, ds = data.current()
    number = data.store().resolve(as_of)
    if number < held:
        ds = data.dataset_at(number)
    return Served(dataset=ds, valid_from=valid_from)


def _valid_from() -> datetime:
    """Time of the store's first changeset, to the second (read once per app: history is never rewritten)."""
    ext = current_app.extensions
    found = ext.get("ictgis_ogc_valid_from")
    if found is None:
        log = data.versions()
        stamp = log[0]["created"] if log else 0.0
        found = ext["ictgis_ogc_valid_from"] = datetime.fromtimestamp(math.floor(stamp), tz=timezone.utc)
    return found


# --------------------------------------------------------------------------------------------- layer index
@dataclass
class LayerIndex:
    """One layer as OGC features, built once per served dataset and shared read-only by the request threads.

    Attributes
    ----------
    features
        GeoJSON Feature dicts (CRS84) in layer order. Never modified: responses copy what they hand out.
    bounds
        ``(n, 4)`` float array of each feature's minx, miny, maxx, maxy (NaN for an empty geometry).
    by_id
        Feature id → position.
    extent
        Bounding box of the layer in CRS84 (None when it has no geometry).
    """

    features: list[dict]
    bounds: np.ndarray
    by_id: dict[str, int]
    extent: list[float] | None
    fields: dict[str, dict] = field(default_factory=dict)


def _plain(values: pd.Series, dtype: str) -> list:
    """Column values as JSON-ready Python values (None for missing; text NFC)."""
    series = values.astype(object).where(values.notna(), None)
    out = series.tolist()
    if dtype in ("str", "enum"):
        return [unicodedata.normalize("NFC", str(v)) if v is not None else None for v in out]
    if dtype == "int":
        return [int(v) if v is not None else None for v in out]
    if dtype == "float":
        return [float(v) if v is not None and math.isfinite(float(v)) else None for v in out]
    if dtype == "bool":
        return [bool(v) if v is not None else None for v in out]
    return out


def _feature_ids(name: str, frame) -> list[str]:
    """Return the layer's stable keys: its schema id field; else a complete, unique ``id`` column; else row numbers."""
    schema = SCHEMAS.get(name)
    column = schema.id_field if schema is not None and schema.id_field else "id"
    if column in frame.columns:
        ids = [unicodedata.normalize("NFC", str(v)) if v is not None else None
               for v in frame[column].astype(object).where(frame[column].notna(), None)]
        if None not in ids and "" not in ids and len(set(ids)) == len(ids):
            return ids
    return [str(i) for i in range(1, len(frame) + 1)]


def build_layer_index(name: str, frame) -> LayerIndex:
    """Turn one layer (working CRS) into OGC features in CRS84.

    Parameters
    ----------
    name
        Layer name (its schema gives the id field and the attribute types).
    frame
        The layer's GeoDataFrame.

    Returns
    -------
    LayerIndex
    """
    frame = to_crs(frame, "EPSG:4326")  # pinned transformation (a transformer per call: thread-safe)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))
    bounds = shapely.bounds(geoms)
    schema = SCHEMAS.get(name)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    types = {}
    for column in columns:
        try:
            types[column] = schema.field(column).dtype if schema is not None else "str"
        except KeyError:
            types[column] = "str" if frame[column].dtype == object else ""
    values = {c: _plain(frame[c], types[c]) for c in columns}
    ids = _feature_ids(name, frame)
    texts = shapely.to_geojson(geoms)
    features = []
    for i, fid in enumerate(ids):
        text = texts[i]
        features.append({"type": "Feature", "id": fid,
                         "geometry": json.loads(text) if text is not None else None,
                         "properties": {c: values[c][i] for c in columns}})
    finite = bounds[~np.isnan(bounds).any(axis=1)]
    extent = None if not len(finite) else [float(finite[:, 0].min()), float(finite[:, 1].min()),
                                           float(finite[:, 2].max()), float(finite[:, 3].max())]
    fields = {c: {"type": _TYPES.get(types[c], "string")} for c in columns}
    return LayerIndex(features=features, bounds=bounds, by_id={fid: i for i, fid in enumerate(ids)}, extent=extent,
                      fields=fields)


class _Indexes:
    """The layer indexes of one served dataset (identity-checked: a new dataset object means new indexes)."""

    def __init__(self, dataset: io.Dataset) -> None:
        self.dataset = dataset  # held, so that its id cannot be reused while these indexes live
        self.layers: dict[str, LayerIndex] = {}
        self.lock = threading.Lock()  # one build per layer at a time; readers of built layers never wait

    def get(self, name: str) -> LayerIndex | None:
        found = self.layers.get(name)
        if found is not None:
            return found
        frame = self.dataset.get(name)
        if frame is None:
            return None
        with self.lock:
            if name not in self.layers:
                self.layers[name] = build_layer_index(name, frame)
            return self.layers[name]


#: Datasets whose layer indexes are kept per app: the current one and a few as-of states (``datetime``).
INDEXES_KEPT = 3


def _indexes(dataset: io.Dataset) -> _Indexes:
    ext = current_app.extensions
    with _lock:
        kept = ext.setdefault("ictgis_ogc_indexes", [])
        found = next((x for x in kept if x.dataset is dataset), None)
        if found is None:
            found = _Indexes(dataset)
            kept.insert(0, found)
            del kept[INDEXES_KEPT:]
        return found


def layer_index(name: str, *, as_of: datetime | None = None) -> LayerIndex | None:
    """Return the OGC index of a served layer (None when the served dataset has no such layer).

    Raises
    ------
    NoHistoryError
        When `as_of` is before the served data's first known state.
    """
    return _indexes(served_dataset(as_of=as_of).dataset).get(name)


# --------------------------------------------------------------------------------------------- the provider
def parse_as_of(datetime_: str | None) -> datetime | None:
    """Return the instant an OGC ``datetime`` asks about: an instant itself, an interval's end (None: open, i.e. now).

    The store's one rule (`ictgis.store.refs.as_of_instant`), as on the CLI and the biến động page: a date is the
    end of that day in Vietnam time; a time with an offset is taken as given.

    Raises
    ------
    ValueError
        When a date cannot be read.
    """
    if not datetime_:
        return None
    text = datetime_.split("/")[-1] if "/" in datetime_ else datetime_
    if text in ("", ".."):
        return None
    return as_of_instant(text)


def _import_provider_base():
    from pygeoapi.provider.base import (
        BaseProvider,
        ProviderInvalidQueryError,
        ProviderItemNotFoundError,
    )

    return BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError


BaseProvider, ProviderInvalidQueryError, ProviderItemNotFoundError = _import_provider_base()


class IctgisProvider(BaseProvider):
    """pygeoapi feature provider of one ictgis layer (``data``: the layer name) of the served dataset.

    pygeoapi creates one per request; it reads the shared, read-only `LayerIndex` and runs inside the Flask request
    (the served dataset is the current app's).
    """

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.layer = provider_def["data"]
        self.get_fields()

    def _index(self, datetime_: str | None = None) -> LayerIndex:
        try:
            found = layer_index(self.layer, as_of=parse_as_of(datetime_))
        except ValueError as exc:  # NoHistoryError, unreadable dates
            raise ProviderInvalidQueryError(user_msg=f"datetime: {exc}") from None
        if found is None:
            raise ProviderItemNotFoundError(user_msg=f"the served dataset has no layer {self.layer}")
        return found

    def get_fields(self) -> dict:
        """Return the layer's attributes and their JSON types."""
        if not self._fields:
            schema = SCHEMAS.get(self.layer)
            self._fields = {f.name: {"type": _TYPES.get(f.dtype, "string")} for f in schema.fields} if schema else {}
        return self._fields

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False, **kwargs) -> dict:
        """Return a page of features: bbox (CRS84) and attribute filters, then ``offset``/``limit``."""
        index = self._index(datetime_)
        selected = np.arange(len(index.features))
        if bbox:
            minx, miny, maxx, maxy = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
            b = index.bounds
            with np.errstate(invalid="ignore"):
                hit = (b[:, 0] <= maxx) & (b[:, 2] >= minx) & (b[:, 1] <= maxy) & (b[:, 3] >= miny)
            selected = selected[hit]
        for name, value in properties or ():
            selected = np.array([i for i in selected
                                 if _matches(index.features[i]["properties"].get(name), value)], dtype=int)
        for sort in reversed(sortby or ()):
            key = sort["property"]
            ordered = sorted(selected.tolist(), key=lambda i, k=key: _sort_key(index.features[i]["properties"].get(k)),
                             reverse=sort["order"] == "-")
            selected = np.array(ordered, dtype=int)
        matched = len(selected)
        page = [] if resulttype == "hits" else selected[offset:offset + limit].tolist()
        features = [_copy(index.features[i], select_properties, skip_geometry) for i in page]
        return {"type": "FeatureCollection", "features": features, "numberMatched": matched,
                "numberReturned": len(features)}

    def get(self, identifier: str, **kwargs) -> dict:
        """Return one feature by its id, as of the request's ``datetime`` when given (404 when there is none then).

        pygeoapi passes no ``datetime`` to a single item: it is read from the request (the provider runs inside it).
        """
        when = kwargs.get("datetime_") or (request.args.get("datetime") if has_request_context() else None)
        index = self._index(when)
        position = index.by_id.get(unicodedata.normalize("NFC", str(identifier)))
        if position is None:
            then = f" as of {when}" if when else ""
            raise ProviderItemNotFoundError(user_msg=f"no feature {identifier!r} in {self.layer}{then}")
        return _copy(index.features[position], None, False)


def _copy(feature: dict, select: list | None, skip_geometry: bool) -> dict:
    """Return a response's own copy of a shared feature (pygeoapi adds links to what it is given)."""
    props = feature["properties"]
    props = {k: props[k] for k in select if k in props} if select else dict(props)
    return {"type": "Feature", "id": feature["id"], "geometry": None if skip_geometry else feature["geometry"],
            "properties": props}


def _matches(value: object, wanted: str) -> bool:
    if value is None:
        return wanted == ""
    if isinstance(value, bool):
        return wanted.lower() in (("true", "1") if value else ("false", "0"))
    if isinstance(value, (int, float)):
        try:
            return float(wanted) == value
        except ValueError:
            return False
    return unicodedata.normalize("NFC", wanted) == value


def _sort_key(value: object) -> tuple:
    return (value is None, value if value is not None else 0)


# --------------------------------------------------------------------------------------------- pygeoapi config
def pygeoapi_config(served: Served, *, base_url: str, limit_default: int = LIMIT_DEFAULT,
                    limit_max: int = LIMIT_MAX) -> dict:
    """Build pygeoapi's configuration for the served layers.

    Parameters
    ----------
    served
        The served data (`served_dataset`).
    base_url
        Absolute URL of the API (``http://host:port/ogc``): pygeoapi writes it into every link.
    limit_default, limit_max
        Items per page without ``limit``; the largest page.

    Returns
    -------
    dict
        A configuration as pygeoapi's YAML file would give it.
    """
    resources = {}
    indexes = _indexes(served.dataset)
    for name in served.dataset.layers:
        schema = SCHEMAS.get(name)
        index = indexes.get(name)
        if index is None:
            continue
        label = schema.label_vi if schema is not None and schema.label_vi else name
        resources[name] = {
            "type": "collection",
            "title": {"vi": label, "en": name.replace("_", " ")},
            "description": {"vi": label, "en": schema.description if schema is not None else name},
            "keywords": ["ictgis", name],
            "extents": {"spatial": {"bbox": index.extent or [-180.0, -90.0, 180.0, 90.0], "crs": CRS84},
                        "temporal": {"begin": served.valid_from, "end": None}},
            "providers": [{"type": "feature", "name": f"{__name__}.IctgisProvider", "data": name,
                           "id_field": "id", "storage_crs": CRS84, "crs": [CRS84]}],
        }
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": 0}, "url": base_url, "mimetype": "application/json",
                   "encoding": "utf-8", "gzip": False, "languages": ["vi", "en"], "pretty_print": False,
                   "limits": {"default_items": limit_default, "max_items": limit_max, "on_exceed": "throttle"},
                   "map": {"url": "", "attribution": ""}},
        "logging": {"level": "WARNING"},
        "metadata": {
            "identification": {"title": {"vi": "Lớp dữ liệu hạ tầng viễn thông, bưu chính (ictgis)",
                                         "en": "Telecom and postal infrastructure layers (ictgis)"},
                               "description": {"vi": "Các lớp bản đồ của ictgis theo chuẩn OGC API – Features",
                                               "en": "The ictgis map layers as OGC API – Features"},
                               "keywords": ["ictgis", "BTS", "fiber", "postal"], "keywords_type": "theme",
                               "terms_of_service": "", "url": base_url},
            "license": {"name": "", "url": ""},
            "provider": {"name": "ictgis", "url": base_url},
            "contact": {"name": "", "position": "", "address": "", "city": "", "stateorprovince": "",
                        "postalcode": "", "country": "", "phone": "", "fax": "", "email": "", "url": "",
                        "hours": "", "instructions": "", "role": "pointOfContact"},
        },
        "resources": resources,
    }


class _Api:
    """pygeoapi's API object of one served dataset and base URL, and its OpenAPI document made on first demand."""

    def __init__(self, served: Served, base_url: str, *, limit_default: int, limit_max: int) -> None:
        from pygeoapi.api import API

        self.dataset = served.dataset
        self.api = API(pygeoapi_config(served, base_url=base_url, limit_default=limit_default,
                                       limit_max=limit_max), {})
        self.openapi_lock = threading.Lock()
        self.openapi_ready = False
        self.token = secrets.token_hex(8)
        self.answers: LRUCache = LRUCache(maxsize=ANSWERS_MAX_BYTES, getsizeof=lambda v: len(v[2]) + 512)
        self.answers_lock = threading.Lock()  # cachetools caches are not thread-safe

    def answer(self, key: tuple) -> tuple[int, dict, bytes] | None:
        """Return a kept answer (status, headers, body), or None."""
        with self.answers_lock:
            return self.answers.get(key)

    def keep(self, key: tuple, value: tuple[int, dict, bytes]) -> None:
        """Keep an answer (not when it is larger than the whole cache)."""
        with self.answers_lock, contextlib.suppress(ValueError):
            self.answers[key] = value

    def etag(self, key: tuple) -> str:
        """Return the weak ETag of an answer of this API object (new dataset, new API object, new ETags)."""
        return hashlib.sha1(repr((self.token, key)).encode()).hexdigest()[:20]

    def with_openapi(self):
        with self.openapi_lock:
            if not self.openapi_ready:
                from pygeoapi.openapi import get_oas

                self.api.openapi = get_oas(self.api.config)
                self.openapi_ready = True
        return self.api


def api_for_request() -> _Api:
    """Return the pygeoapi API of the served dataset for this request's base URL (built once, then shared)."""
    base_url = request.url_root.rstrip("/") + bp.url_prefix
    served = served_dataset()
    app = current_app
    with _lock:
        cache = app.extensions.setdefault("ictgis_ogc_api", LRUCache(maxsize=_API_CACHE_SIZE))
        found = cache.get(base_url)
    if found is not None and found.dataset is served.dataset:
        return found
    built = _Api(served, base_url, limit_default=int(app.config.get("OGC_LIMIT_DEFAULT", LIMIT_DEFAULT)),
                 limit_max=int(app.config.get("OGC_LIMIT_MAX", LIMIT_MAX)))
    with _lock:
        cache[base_url] = built
    return built


def _run(function, *args, api: _Api | None = None, skip_valid_check: bool = True,
         transform: Callable[[str], str] | None = None) -> Response:
    """Call a pygeoapi API function with this Flask request; return its answer as a Flask response.

    Answers of 200 are kept per served dataset (`_Api.answers`, by URL, ``Accept`` and ``Accept-Language``) with an
    ETag: the same page asked again is not computed again, and a client that has it gets 304.
    """
    from pygeoapi.api import APIRequest, apply_gzip

    owner = api or api_for_request()
    key = (request.full_path, request.headers.get("Accept", ""), request.headers.get("Accept-Language", ""))
    found = owner.answer(key)
    if found is None:
        api_request = APIRequest.from_flask(request, owner.api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = owner.api.get_format_exception(api_request)
        else:
            headers, status, content = function(owner.api, api_request, *args)
            if transform is not None and int(status) == 200 and isinstance(content, str):
                content = transform(content)
            content = apply_gzip(headers, content)
        if int(status) >= 500:
            logger.error("OGC API %s answered %s: %s", request.full_path, int(status), str(content)[:500])
        found = (int(status), dict(headers or {}), content.encode() if isinstance(content, str) else content)
        if found[0] == 200:
            owner.keep(key, found)
    status, headers, body = found
    etag = owner.etag(key) if status == 200 else None
    if etag and request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = make_response(body, status)
        response.headers.update(headers)
    if etag:
        response.set_etag(etag, weak=True)
        response.cache_control.no_cache = True  # revalidate: a new dataset version changes the answer
    return response


@bp.get("")
@bp.get("/")
def landing_page():
    """OGC API landing page."""
    import pygeoapi.api as core

    return _run(core.landing_page, skip_valid_check=False)


@bp.get("/openapi")
def openapi():
    """OpenAPI document of the API."""
    import pygeoapi.api as core

    owner = api_for_request()
    owner.with_openapi()
    return _run(core.openapi_, api=owner, skip_valid_check=False)


@bp.get("/conformance")
def conformance():
    """Conformance classes."""
    import pygeoapi.api as core

    return _run(core.conformance, skip_valid_check=False)


@bp.get("/collections")
@bp.get("/collections/<collection_id>")
def collections(collection_id: str | None = None):
    """List the collections (one per served layer), or describe one."""
    import pygeoapi.api as core

    def plain_links(content: str) -> str:
        try:
            doc = json.loads(content)
        except ValueError:  # HTML
            return content
        return json.dumps(_plain_items_links(doc), ensure_ascii=False, separators=(",", ":"))

    return _run(core.describe_collections, collection_id, skip_valid_check=False, transform=plain_links)


def _plain_items_links(doc: dict) -> dict:
    """Write the GeoJSON ``items`` links without ``?f=json``: GDAL 3.6 appends ``/<id>`` to that link's URL.

    pygeoapi writes ``…/items?f=json``; GDAL's OAPIF driver (3.6, Debian 12) then asks ``…/items?f=json/P2`` for
    the feature ``P2`` (a ``-where id = 'P2'``). GeoJSON is what ``…/items`` answers without ``f`` anyway.
    """
    for collection in doc.get("collections", [doc]):
        for link in collection.get("links", []):
            if link.get("rel") == "items" and link.get("type") == "application/geo+json":
                link["href"] = link["href"].split("?", 1)[0]
    return doc


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    """Queryable attributes of a collection."""
    from pygeoapi.api import itemtypes

    return _run(itemtypes.get_collection_queryables, collection_id, skip_valid_check=False)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """Features of a collection: ``bbox``, ``limit``/``offset``, ``datetime``, attribute filters."""
    from pygeoapi.api import itemtypes

    return _run(itemtypes.get_collection_items, collection_id)


@bp.get("/collections/<collection_id>/items/<path:item_id>")
def item(collection_id: str, item_id: str):
    """One feature by its id."""
    from pygeoapi.api import itemtypes

    return _run(itemtypes.get_collection_item, collection_id, item_id, skip_valid_check=False)


def install(app: Flask) -> None:
    """Register the OGC API blueprint on an app.

    pygeoapi logs every refused request (a 404, a bad ``bbox``) as an error with its traceback: its logger is set
    to ``OGC_PYGEOAPI_LOG_LEVEL`` (default CRITICAL); answers of 500 and more are logged here instead.
    """
    app.register_blueprint(bp)
    logging.getLogger("pygeoapi").setLevel(app.config.get("OGC_PYGEOAPI_LOG_LEVEL", logging.CRITICAL))
