"""Postal service points, with the department's count of each kind, and the remoteness of communes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from ..encoding import to_nfc
from .communes import Work, inside_points
from .geography import CRS, REMOTE_DISTRICTS
from .grid import nearest_cells
from .roads import RoadGrid, road_csr

CAP2_NO_BDVHX = "03169"  # Nà Hỳ: the xã with a cấp II office instead of a BĐVHX


TAY_TRANG = (102.875, 21.27)


def _short(district: str) -> str:
    for prefix in ("Thành phố ", "Thị xã ", "Huyện "):
        if district.startswith(prefix):
            return district[len(prefix):]
    return district


def commune_remoteness(w: Work, net: RoadGrid) -> np.ndarray:
    """Road distance (m) from the commune centre to the nearest district seat, tripled in remote districts."""
    graph, _ = road_csr(net)
    d = dijkstra(graph, indices=np.array(sorted(set(w.seats.values()))), min_only=True)[w.centres]
    d = np.nan_to_num(d, posinf=2e5)
    return d * np.where(w.communes.dist_code.isin(REMOTE_DISTRICTS).to_numpy(), 3.0, 1.0)


def post_offices(w: Work, remoteness: np.ndarray) -> gpd.GeoDataFrame:
    """168 service points with the department's kind counts."""
    com, grid, rng = w.communes, w.grid, w.rng
    codes = com.code.to_numpy()
    row = {c: i for i, c in enumerate(codes)}
    kind = com.kind.to_numpy()
    rows: list[tuple[str, str, int]] = []  # kind, name, commune row
    tp = "Điện Biên Phủ"
    rows += [("cap1", f"Bưu cục cấp I {tp}", row.get("03136", 0)), ("cap1", "Bưu cục cấp I Mường Thanh",
                                                                     row.get("03133", 0))]
    rows += [("kt1", "Bưu cục KT1 Điện Biên", row.get("03136", 0)),
             ("large_cust", f"Bưu cục Khách hàng lớn {tp}", row.get("03127", 0))]
    seat_rows = []
    for code in sorted(w.seats):
        r = int(w.label[w.seats[code]]) if code != "094" else row.get("03127", 0)
        seat_rows.append(r)
        dname = _short(com.district[com.dist_code == code].iloc[0]) if (com.dist_code == code).any() else code
        rows.append(("cap2", f"Bưu cục cấp II {dname if code != '094' else com.name.iloc[r]}", r))
    pop = com.population.to_numpy()
    cand = [i for i in np.argsort(-pop, kind="stable") if i not in seat_rows]
    rows += [("cap3", f"Bưu cục cấp III {com.name.iloc[i]}", int(i)) for i in cand[:37]]
    boxes = [row[c] for c in ("03133", "03130", "03139", "03124") if c in row]
    boxes += list(np.flatnonzero(kind == "thi_tran"))
    boxes += [i for i in np.argsort(-pop, kind="stable") if i not in boxes][: 9 - len(boxes)]
    rows += [("letterbox", f"Hộp thư công cộng {com.name.iloc[i]}", int(i)) for i in boxes[:9]]
    xa = np.flatnonzero(kind == "xa")
    skip = [row[CAP2_NO_BDVHX]] if CAP2_NO_BDVHX in row else []
    order = [i for i in xa[np.argsort(-remoteness[xa], kind="stable")] if i not in skip]
    skip += order[: len(xa) - 107 - len(skip)]
    rows += [("bdvhx", f"Điểm BĐVHX {com.name.iloc[i]}", int(i)) for i in xa if i not in skip]
    tt = int(w.label[nearest_cells((w.label >= 0).reshape(grid.ny, grid.nx), grid, w.place([TAY_TRANG]))[0]])
    rows.append(("other", "Đại lý bưu điện cửa khẩu Tây Trang", tt))
    crow = np.array([r for _, _, r in rows])
    cells = np.array([int(w.centres[r]) for r in crow])
    cells[-1] = int(nearest_cells((w.label == tt).reshape(grid.ny, grid.nx), grid, w.place([TAY_TRANG]))[0])
    xy = grid.centres(cells) + rng.uniform(-0.45, 0.45, (len(rows), 2)) * grid.res
    xy = inside_points(w, xy, cells)
    return gpd.GeoDataFrame({"id": [f"BC{i + 1:03d}" for i in range(len(rows))],
                             "name": [to_nfc(n) for _, n, _ in rows], "kind": [k for k, _, _ in rows]},
                            geometry=shapely.points(xy), crs=CRS)
