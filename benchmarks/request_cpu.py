"""Benchmark (not a test, issue 13): CPU per request of the member pages, in-process.

The Django test client serves the start page, `/abrechnung/`, `/dokumente/` and the logged-in
and anonymous `/healthz` to a Träger holding every right at 20 MVZ (the world of
`tests/foundation/test_query_counts.py`) on an in-memory SQLite database with the production
settings (DEBUG off, cached template loader). No server, no network: what is left is the
request path's own CPU — middleware, context processors, view, templates.

    .venv/bin/python benchmarks/request_cpu.py [--requests 200] [--practices 20]
        [--profile /abrechnung/] [--top 30] [--label after] [--freeze]

Prints per page: mean and p50/p99 of the CPU time (`time.process_time`) and wall time in ms,
the queries per request and the ratio to anonymous `/healthz`; `/impressum/` logged in is the
floor (the layout every member page pays). `--freeze` freezes the start-up heap as `wsgi.py`
does in the web process (`core/heap.py`); without it, a full garbage collection over the whole
heap (~120 ms) lands in about one start page of a hundred. `--profile URL` prints the
`cProfile` functions with the most cumulative time for that page. Results also go to
benchmarks/out/request_cpu-<label>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
os.environ.setdefault("KVPORTAL_SECRET_KEY", "benchmark-only-not-secret")
os.environ.setdefault("KVPORTAL_HTTPS", "0")
os.environ.setdefault("KVPORTAL_DEBUG", "0")
os.environ.setdefault("KVPORTAL_FAST_HASHER", "1")
os.environ.setdefault("KVPORTAL_LOG_LEVEL", "WARNING")
os.environ.setdefault("KVPORTAL_VAR_DIR", tempfile.mkdtemp(prefix="kvportal-cpu-"))
os.environ.setdefault("DATABASE_URL", "sqlite:///" + os.environ["KVPORTAL_VAR_DIR"] + "/db")

#: `/impressum/` logged in is the floor of every member page: middleware, session, user, the
#: effective rights, the navigation and the base layout around a short static text
PAGES = ["/", "/abrechnung/", "/dokumente/", "/impressum/", "/healthz"]


def _setup(practices: int):
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    # no setup_test_environment(): its instrumented template rendering (the test client copies
    # every context) would cost more than the rendering itself
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.KVPORTAL_RECOVER_IN_PROCESS = False
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    from tests.foundation.test_query_counts import build_world

    return build_world(practices)


def _measure(client, url: str, requests: int) -> dict:
    from django.db import connection, reset_queries

    cpu, wall = [], []
    for _ in range(5):  # warm: template cache, gate decision, first activity stamp
        client.get(url)
    connection.force_debug_cursor = True
    reset_queries()
    client.get(url)
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    for _ in range(requests):
        c0, w0 = time.process_time(), time.perf_counter()
        response = client.get(url)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        assert response.status_code == 200, (url, response.status_code)

    def p(values, q):
        return statistics.quantiles(values, n=100)[q - 1]

    return {
        "cpu_mean": statistics.fmean(cpu),
        "cpu_p50": statistics.median(cpu),
        "cpu_p99": p(cpu, 99),
        "wall_p50": statistics.median(wall),
        "wall_p99": p(wall, 99),
        "queries": queries,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--practices", type=int, default=20)
    parser.add_argument("--profile", default="", help="print cProfile of this URL")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--label", default="run")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() as wsgi.py does")
    args = parser.parse_args(argv)

    user = _setup(args.practices)
    from django.test import Client

    anonymous, member = Client(), Client()
    member.force_login(user)
    if args.freeze:
        from kvportal.core.heap import freeze_after_startup

        member.get("/")  # templates compiled, caches filled: part of the frozen heap
        freeze_after_startup()
    results = {"healthz (anonymous)": _measure(anonymous, "/healthz", args.requests)}
    for url in PAGES:
        label = "healthz (logged in)" if url == "/healthz" else url
        results[label] = _measure(member, url, args.requests)
    base = results["healthz (anonymous)"]["cpu_p50"]
    print(
        f"{'page':<22} {'cpu mean':>9} {'cpu p50':>8} {'cpu p99':>8} {'wall p99':>9} "
        f"{'queries':>7} {'× healthz p50':>13}"
    )
    for label, row in results.items():
        print(
            f"{label:<22} {row['cpu_mean']:9.2f} {row['cpu_p50']:8.2f} {row['cpu_p99']:8.2f} "
            f"{row['wall_p99']:9.2f} {row['queries']:7d} {row['cpu_p50'] / base:13.1f}"
        )
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / f"request_cpu-{args.label}.json").write_text(json.dumps(results, indent=2))
    if args.profile:
        client = anonymous if args.profile == "/healthz-anonymous" else member
        url = "/healthz" if args.profile == "/healthz-anonymous" else args.profile
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(50):
            client.get(url)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
