"""The run list with its records in the store: ``/scenarios/`` and ``/api/runs`` with 200 finished runs.

The records are rows of the app's GeoPackage store (`ictgis.store.accounts`), read in one query; each finished run
has six output files in ``<instance>/runs/<id>/out`` (their names are in the record, so no folder is walked). The
peer is the previous design measured the same way: one ``run.json`` read per run and every output folder walked
on each listing (123.7 ms for ``/scenarios/`` and 98.7 ms for ``/api/runs`` on the shared 2-core test machine,
before the move, and 174–211 ms at a load average of 7; it cannot run from this tree any more). Median of 15
requests through Flask's test client (no network), logged in as a planner. Also: one login check per request
(``UserStore.get``), the query every logged-in request makes. One JSON line per measure.
Run: ``python benchmarks/bench_runs.py [--runs 200]``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, load_average, median_time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_web import make_data  # noqa: E402 - the tests' tiny province

from ictgis.store import accounts as records  # noqa: E402
from ictgis.store.store import now  # noqa: E402
from ictgis_web import create_app  # noqa: E402

PEER_MS = {"/scenarios/": 123.7, "/api/runs": 98.7}
FILES = ("summary.json", "indicators_before.json", "indicators_after.json", "costs.json", "manifest.json",
         "villages.gpkg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    instance = tmp / "instance"
    app = create_app({"TESTING": True, "DATA_DIR": str(make_data(tmp / "data")), "SECRET_KEY": "bench",
                      "INSTANCE_PATH": str(instance), "PRECOMPUTE": False})
    users = app.extensions["ictgis_users"]
    users.add("lan", "mat-khau-123", "planner")
    jobs = app.extensions["ictgis_jobs"]
    for i in range(args.runs):
        run_id = f"20260101-{i:06d}-abcdef"
        out = instance / "runs" / run_id / "out"
        out.mkdir(parents=True)
        for name in FILES:
            (out / name).write_text("{}", encoding="utf-8")
        row = records.create_run(jobs.store, run_id, name="plan.yaml", parameters={"info": {"dataset_folder": "d"}},
                                 owner="lan", outputs=str(out.parent), server=jobs.server, dataset_version=1)
        records.update_run(jobs.store, run_id, expected_version=row["version"], status="done", progress=1.0,
                           message="xong", started=now(), finished=now(), files=sorted(FILES))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "lan", "password": "mat-khau-123",
                                       "csrf_token": csrf}).status_code == 302
    for path, peer_ms in PEER_MS.items():
        assert client.get(path).status_code == 200
        t, _, _ = median_time(lambda p=path: client.get(p), repeats=15)
        emit({"bench": "run_list", "path": path, "runs": args.runs, "ours_ms": round(t * 1000, 1),
              "peer": "run.json per run (before)", "peer_ms": peer_ms, "ratio": round(peer_ms / (t * 1000), 2),
              "load": load_average()})
    t0 = time.perf_counter()
    for _ in range(200):
        users.get("lan")
    emit({"bench": "user_lookup", "ours_ms": round((time.perf_counter() - t0) / 200 * 1000, 3),
          "store": "GeoPackage", "load": load_average()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
