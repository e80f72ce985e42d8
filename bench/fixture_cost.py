"""What the pytest plugin's per-test sandbox costs: tenant + app + permission + consent + secret + org + application
user, through the admin use cases on a live server's database — and a baseline measured in the same run.

Baseline: one committed single-row INSERT through SQLAlchemy on the same database (the floor any write pays).
Sandboxes are created while the server runs, after ``--existing`` sandboxes already exist (a long test session).

    .venv/bin/python bench/fixture_cost.py --sandboxes 200 --existing 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.harness import percentile
from d365local.admins import open_admins
from d365local.testing.sandbox import Sandbox
from d365local.testing.server import start_server, stop_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sandboxes", type=int, default=200, help="sandboxes measured")
    parser.add_argument("--existing", type=int, default=1000, help="sandboxes created before measuring")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="d365local-bench-") as tmp:
        server = start_server(Path(tmp))
        try:
            with open_admins(server.data_dir) as admins:
                create = lambda: Sandbox.create(server, admins, label="bench")  # noqa: E731
                first = _timed(create, 20)
                for _ in range(args.existing):
                    create()
                later = _timed(create, args.sandboxes)
                # The sandbox must work, not just exist: one token and one WhoAmI through the server.
                sandbox = create()
                with sandbox.web_api() as api:
                    assert api.who_am_i()["UserId"] == sandbox.user_id
                sandbox.close()
            baseline = _insert_baseline(Path(tmp) / "d365local.db", args.sandboxes)
        finally:
            stop_server(server)
    result = {
        "sandbox_ms_first_p50": _ms(statistics.median(first)),
        f"sandbox_ms_after_{args.existing}_p50": _ms(statistics.median(later)),
        f"sandbox_ms_after_{args.existing}_p95": _ms(percentile(sorted(later), 0.95)),
        "insert_commit_ms_p50": _ms(statistics.median(baseline)),
        "sandbox_in_commits": round(statistics.median(later) / statistics.median(baseline), 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, value in result.items():
            print(f"{name:32} {value}")


def _timed(action: object, times: int) -> list[float]:
    assert callable(action)
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def _insert_baseline(path: Path, times: int) -> list[float]:
    engine = sa.create_engine(f"sqlite:///{path}")
    columns = (sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Text))
    table = sa.Table("bench_rows", sa.MetaData(), *columns)
    table.create(engine)
    try:
        samples = []
        for i in range(times):
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.insert(table).values(v=str(i)))
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        engine.dispose()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


if __name__ == "__main__":
    main()
