"""Mobile (BTS) sites: placement on high ground, then operators, technologies, bands, heights, power."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage

from .communes import Work, inside_points
from .geography import CRS, REMOTE_DISTRICTS
from .noise import gumbel_order
from .roads import RoadGrid

OPERATORS = {"Viettel": 370, "VinaPhone": 205, "MobiFone": 180, "Vietnamobile": 40, "Gmobile": 20}


OP_PREFIX = {"Viettel": "VTL", "VinaPhone": "VNP", "MobiFone": "MBF", "Vietnamobile": "VNM", "Gmobile": "GMB"}


class _SitePicker:
    """Picks site cells on high ground near a point, with an optional exclusion mask."""

    def __init__(self, w: Work):
        self.w = w
        self.zf = w.z.ravel()

    def near(self, xy: np.ndarray, radius: float, allowed: np.ndarray) -> int | None:
        g = self.w.grid
        r = int(radius / g.res) + 1
        c0 = g.index(xy)[0]
        rr, cc = np.divmod(c0, g.nx)
        dr, dc = np.mgrid[-r:r + 1, -r:r + 1]
        rows, cols = (rr + dr).ravel(), (cc + dc).ravel()
        ok = (rows >= 0) & (rows < g.ny) & (cols >= 0) & (cols < g.nx)
        cells = rows[ok] * g.nx + cols[ok]
        d = np.hypot(*(g.centres(cells) - xy).T)
        cells, d = cells[(d <= radius) & allowed[cells] & (self.w.label[cells] >= 0)], d[(d <= radius)
                                                                                       & allowed[cells]
                                                                                       & (self.w.label[cells] >= 0)]
        if cells.size == 0:
            return None
        return int(cells[np.argmax(self.zf[cells] - 0.08 * d)])


def bts_sites(w: Work, net: RoadGrid, vil: gpd.GeoDataFrame, gap: np.ndarray) -> gpd.GeoDataFrame:
    """815 sites: 705 with 4G (kept > 11 km from the white-zone villages), 785 with 3G, 16 on diesel."""
    grid, rng = w.grid, w.rng
    picker = _SitePicker(w)
    vxy = shapely.get_coordinates(vil.geometry.values)
    pop = vil.population.to_numpy()
    n = grid.nx * grid.ny
    gap_mask = np.zeros(n, dtype=bool)
    gap_mask[grid.index(vxy[gap])] = True
    d_gap = ndimage.distance_transform_edt(~gap_mask.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()
    allow4g = d_gap > 10_600  # > 10 km after the jitter of points within their cell
    anywhere = np.ones(n, dtype=bool)
    com = w.communes
    urban_cells = np.isin(w.label, np.flatnonzero((com.dist_code == "094").to_numpy() & (com.kind != "xa").to_numpy()))
    sites: list[dict] = []

    def add(cell: int | None, role: str, g4: bool) -> bool:
        if cell is None:
            return False
        sites.append({"cell": cell, "role": role, "g4": g4})
        return True

    def xy4() -> np.ndarray:
        return grid.centres(np.array([s["cell"] for s in sites if s["g4"]] or [0]))

    # Dense in Điện Biên Phủ, a cluster at every other seat.
    ucells = np.flatnonzero(urban_cells & allow4g)
    for j in gumbel_order(rng, np.ones(len(ucells)))[:58]:
        add(int(ucells[j]), "urban", True)
    for code, seat in w.seats.items():
        if code == "094":
            continue
        for _ in range(6):
            add(picker.near(grid.centres([seat])[0] + rng.normal(0, 1200, 2), 1500, allow4g), "seat", True)
    # Along national roads, every ~4 km.
    road_cells = np.unique([c for k, (rank, _) in net.edges.items() if rank == 0 for c in k])
    for j in gumbel_order(rng, np.ones(len(road_cells))):
        if len([s for s in sites if s["g4"]]) >= 330:
            break
        p = grid.centres([road_cells[j]])[0]
        if allow4g[road_cells[j]] and np.min(np.hypot(*(xy4() - p).T)) > 3800:
            add(picker.near(p, 1200, allow4g), "road", True)
    # Coverage of every village outside the white zones.
    outside = np.setdiff1d(np.arange(len(vil)), gap)
    for j in outside[np.argsort(-pop[outside], kind="stable")]:
        if np.min(np.hypot(*(xy4() - vxy[j]).T)) > 2800:
            add(picker.near(vxy[j], 2000, allow4g) or picker.near(vxy[j], 5000, allow4g), "cover", True)
    n4 = sum(s["g4"] for s in sites)
    if n4 > 705:
        raise RuntimeError(f"demo generator placed {n4} 4G sites, more than 705")
    for j in gumbel_order(rng, pop.astype(float)):
        if sum(s["g4"] for s in sites) >= 705:
            break
        if allow4g[grid.index(vxy[j])[0]]:
            add(picker.near(vxy[j], 1800, allow4g), "fill", True)
    # 110 sites without 4G: 10 diesel 2G/3G sites in the white zones, the rest remote or in towns.
    for j in gap[gumbel_order(rng, pop[gap].astype(float))][:10]:
        add(picker.near(vxy[j], 2500, anywhere), "zone", False)
    remote_v = np.flatnonzero(np.isin(com.dist_code.to_numpy()[w.label[grid.index(vxy)]], REMOTE_DISTRICTS))
    for j in gumbel_order(rng, np.ones(len(remote_v))):
        if len(sites) >= 705 + 65:
            break
        add(picker.near(vxy[remote_v[j]], 2000, anywhere), "remote", False)
    town = np.flatnonzero(urban_cells | np.isin(np.arange(n), list(w.seats.values())))
    for j in gumbel_order(rng, np.ones(len(town)))[:45]:
        add(int(town[j]), "town", False)
    return _site_attributes(w, sites, net)


def _site_attributes(w: Work, sites: list[dict], net: RoadGrid) -> gpd.GeoDataFrame:
    grid, rng = w.grid, w.rng
    df = pd.DataFrame(sites)
    cells = df.cell.to_numpy()
    xy = inside_points(w, grid.centres(cells) + rng.uniform(-0.3, 0.3, (len(df), 2)) * grid.res, cells)
    trunk = np.zeros(grid.nx * grid.ny, dtype=bool)
    trunk[[c for k, (rank, _) in net.edges.items() if rank <= 1 for c in k]] = True
    d_trunk = ndimage.distance_transform_edt(~trunk.reshape(grid.ny, grid.nx), sampling=grid.res).ravel()[cells]
    remote = np.isin(w.communes.dist_code.to_numpy()[w.label[cells]], REMOTE_DISTRICTS)
    g4 = df.g4.to_numpy()
    role = df.role.to_numpy()
    # Operators: Gmobile and Vietnamobile in towns; Viettel favoured in remote places; exact quotas.
    op = np.empty(len(df), dtype=object)
    town = np.flatnonzero(role == "town")
    op[town[:20]], op[town[20:]] = "Gmobile", "Vietnamobile"
    urban4 = np.flatnonzero(g4 & np.isin(role, ["urban", "seat"]))
    op[urban4[rng.permutation(len(urban4))[:15]]] = "Vietnamobile"
    quotas = {k: v for k, v in OPERATORS.items() if k in ("Viettel", "VinaPhone", "MobiFone")}
    zone = np.flatnonzero(role == "zone")
    op[zone] = "Viettel"
    quotas["Viettel"] -= len(zone)
    rest = np.flatnonzero(op == None)  # noqa: E711
    rest = rest[np.argsort(-(remote[rest] * 2.0 + d_trunk[rest] / 1e4 + rng.uniform(0, 1, len(rest))), kind="stable")]
    for j in rest:
        pref = np.array([1.0 + 2.5 * remote[j] + (role[j] == "remote"), 1.0, 1.0])
        left = np.array(list(quotas.values()), dtype=float)
        p = pref * left
        name = list(quotas)[int(rng.choice(3, p=p / p.sum()))]
        op[j] = name
        quotas[name] -= 1
    tech = np.where(g4, "2G,3G,4G", "2G,3G").astype(object)
    gm = np.flatnonzero(op == "Gmobile")
    tech[gm[:15]] = "2G"
    big4 = np.flatnonzero(g4 & (op != "Vietnamobile"))
    pick = big4[rng.permutation(len(big4))]
    tech[pick[:15]], tech[pick[15:55]] = "2G,4G", "3G,4G"
    # Diesel: the 10 white-zone sites and the 6 4G sites of the remote districts farthest from main roads.
    power = np.full(len(df), "grid", dtype=object)
    power[zone] = "diesel"
    far = np.flatnonzero(g4 & remote)
    power[far[np.argsort(-d_trunk[far], kind="stable")[:6]]] = "diesel"
    diesel = power == "diesel"
    band = np.where(g4, 1800.0, np.where(np.char.find(tech.astype(str), "3G") >= 0, 2100.0, 900.0))
    rural_vt = g4 & (op == "Viettel") & (role != "urban")
    band[rural_vt & (rng.uniform(size=len(df)) < 0.12)] = 900.0
    band[g4 & diesel] = 700.0
    band[g4 & (op == "VinaPhone") & (rng.uniform(size=len(df)) < 0.1)] = 2100.0
    height = np.select([role == "urban", role == "town", role == "seat", diesel | (role == "zone") | remote],
                       [rng.uniform(15, 30, len(df)), rng.uniform(18, 35, len(df)), rng.uniform(20, 40, len(df)),
                        rng.uniform(40, 60, len(df))], rng.uniform(30, 45, len(df)))
    ids = []
    count = dict.fromkeys(OPERATORS, 0)
    for o in op:
        count[o] += 1
        ids.append(f"{OP_PREFIX[o]}{count[o]:04d}")
    return gpd.GeoDataFrame({"id": ids, "operator": op.astype(str), "tech": tech.astype(str), "band_mhz": band,
                             "height_m": np.round(height), "power": power.astype(str)},
                            geometry=shapely.points(xy), crs=CRS)


#: Sites of different operators this close are put on one tower in the demo (the host's position), so that a few
#: percent of the towers are shared, as the department's plan describes sharing as still low (docs/sources.md §1.3).
COLOCATE_WITHIN_M = 150.0


def colocate(sites: gpd.GeoDataFrame, *, within_m: float = COLOCATE_WITHIN_M) -> gpd.GeoDataFrame:
    """Put close sites of different operators on one tower and give every site its tower id (``T0001`` …).

    Deterministic (no random numbers): pairs closest first; a site moves onto its neighbour's tower when neither
    has moved, the mover hosts no one, is not on diesel (diesel sites stay in their remote communes) and its
    operator is not on that tower yet. Moves are at most `within_m`.
    """
    out = sites.copy()
    pts = out.geometry.to_numpy()
    a, b = shapely.STRtree(pts).query(pts, predicate="dwithin", distance=within_m)
    keep = a < b
    a, b = a[keep], b[keep]
    d = shapely.distance(pts[a], pts[b])
    ops = out["operator"].to_numpy()
    diesel = (out["power"] == "diesel").to_numpy()
    host = np.arange(len(out))
    guests: dict[int, set] = {}
    for k in np.argsort(d, kind="stable"):
        i, j = int(a[k]), int(b[k])
        for h, m in ((i, j), (j, i)):
            if host[h] != h or host[m] != m or m in guests or diesel[m]:
                continue
            on_tower = {ops[h], *(ops[g] for g in guests.get(h, ()))}
            if ops[m] in on_tower:
                continue
            host[m] = h
            guests.setdefault(h, set()).add(m)
            break
    out.geometry = pts[host]
    roots = {h: f"T{n + 1:04d}" for n, h in enumerate(sorted(set(host.tolist())))}
    out["tower"] = [roots[h] for h in host.tolist()]
    return out
