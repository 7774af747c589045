"""Benchmark (not a test, issue 13): the logged-in request path on PostgreSQL with many
documents — queries per member page and p50/p99 latency per page at concurrency 1 and 10,
as a ratio to anonymous `/healthz` measured in the same run, served by gunicorn (2 workers ×
4 threads).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kvportal_reads_bench \\
        .venv/bin/python benchmarks/request_path.py [--documents 1000000] [--reuse] \\
        [--src PATH] [--label after] [--requests 200]

The archive is built with `documents_benchmark.py`'s data builder (5,000 MVZ, three doctors
each, documents spread over 40 quarters) plus a Träger holding all three rights at 20 of the
BSNRs (the case of issue 13). `--src` serves another source tree (e.g. an export of main for
the "before" figures) with the same database; `--reuse` keeps a loaded database. Results also
go to benchmarks/out/request_path-<label>.json. Goal: every member page p99 ≤ 5 × /healthz
at c=1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kvportal_reads_bench")
os.environ.setdefault("KVPORTAL_HTTPS", "0")
os.environ.setdefault("KVPORTAL_DEBUG", "0")
os.environ.setdefault("KVPORTAL_SECRET_KEY", "benchmark-only-not-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
os.environ.setdefault("KVPORTAL_VAR_DIR", str(ROOT / "benchmarks" / "out"))
os.environ.setdefault("KVPORTAL_LOG_LEVEL", "WARNING")

from benchmarks import documents_benchmark as docs_bench  # noqa: E402

TRAEGER20 = "bench.traeger20"
TRAEGER1 = f"traeger{docs_bench.BSNR_COUNT // 2}"
PAGES = [
    "/",
    "/dokumente/",
    "/abrechnung/",
    "/abrechnung/testabrechnung/",
    "/zulassung/",
    "/konto/protokoll/",
]


def add_traeger20() -> None:
    """A doctor, Ärztlicher Leiter at 20 MVZ with every right there, and a current submission
    with declaration per BSNR for the last quarter (dates from the clock of the run)."""
    from django.utils import timezone

    from kvportal.accounts.constants import Right
    from kvportal.accounts.models import PortalRight, User
    from kvportal.billing.models import Declaration, Submission
    from kvportal.core.quarters import Quarter
    from kvportal.members.constants import Profession, Role
    from kvportal.members.identifiers import make_lanr
    from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

    if User.objects.filter(username=TRAEGER20).exists():
        return
    person = Person.objects.create(
        lanr=make_lanr("990001", "01"),
        first_name="Bench",
        last_name="Traeger",
        profession=Profession.ARZT,
    )
    user = User.objects.create(username=TRAEGER20, password="!", person=person)
    today = timezone.localdate()
    quarter = Quarter.of(today).previous()
    practices = list(Betriebsstaette.objects.order_by("pk")[100:120])
    for practice in practices:
        Taetigkeit.objects.create(
            person=person,
            betriebsstaette=practice,
            role=Role.AERZTLICHER_LEITER,
            valid_from=today - dt.timedelta(days=400),
        )
        for right in Right:
            PortalRight.objects.create(user=user, betriebsstaette=practice, right=right)
        Submission.objects.create(
            betriebsstaette=practice,
            quarter=quarter.slug,
            original_name=f"Z01{practice.bsnr}.con",
            storage_name=f"billing/bench-{practice.pk}.con",
            size=10,
            sha256="1" * 64,
            submitted_by=user,
            submitted_by_name="Bench",
            timing="on_time",
            state="done",
            is_current=True,
        )
        Declaration.objects.create(
            betriebsstaette=practice, quarter=quarter.slug, given_by=user, given_by_name="Bench"
        )


def build(documents: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from kvportal.members.models import Betriebsstaette, Person

    docs_bench.recreate_database(os.environ["DATABASE_URL"])
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    docs_bench.seed_registry()
    practices = list(Betriebsstaette.objects.order_by("pk"))
    persons = list(Person.objects.order_by("pk"))
    seconds = docs_bench.load_documents(documents, practices, persons)
    add_traeger20()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"Datenbank aufgebaut: {documents} Dokumente in {time.perf_counter() - t0:.0f} s "
        f"(COPY {seconds:.0f} s)"
    )


def new_session(username: str) -> str:
    """A signed-in session as the login leaves it (no second factor, password changed)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from kvportal.accounts.models import User

    user = User.objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store["kvportal_login_at"] = time.time()
    store.create()
    return store.session_key


def query_counts(username: str) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from kvportal.accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=username))
    counts = {}
    for page in ["/healthz", *PAGES]:
        client.get(page)  # the first request of a login decides the gate
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        counts[page] = len(queries)
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(src: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "kvportal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=str(ROOT),
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn antwortet nicht.")


def run_load(port: int, path: str, sessions: list[str | None], total: int) -> list[float]:
    """`total` GETs of `path` from len(sessions) threads, each with its own keep-alive
    connection and session; latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = max(total // len(sessions), 1)

    def worker(session: str | None) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Host": "127.0.0.1"}
        if session:
            headers["Cookie"] = f"kvportal_session={session}"
        mine = []
        for _ in range(per_thread):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(int(len(values) * q), len(values) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="vorhandene Datenbank verwenden")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="Quellbaum für gunicorn")
    parser.add_argument("--label", default="after")
    parser.add_argument("--requests", type=int, default=200, help="Anfragen je Seite und Runde")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("DATABASE_URL muss auf PostgreSQL zeigen.")
    sys.path.insert(0, str(args.src.resolve()))
    import django

    django.setup()
    from django.db import connection

    from kvportal.documents.models import Document

    if not args.reuse:
        build(args.documents)
    else:
        add_traeger20()
    documents = Document.objects.count()
    counts = {who: query_counts(who) for who in (TRAEGER1, TRAEGER20)}
    connection.close()

    port = free_port()
    server = start_gunicorn(args.src.resolve(), port)
    targets = [("anonym", "/healthz")] + [
        (who, page) for who in (TRAEGER1, TRAEGER20) for page in ["/healthz", *PAGES]
    ]
    samples: dict[str, dict[str, list[float]]] = {}
    try:
        for concurrency in (1, 10):
            sessions = {
                "anonym": [None] * concurrency,
                **{who: [new_session(who) for _ in range(concurrency)] for who in counts},
            }
            connection.close()
            per = samples.setdefault(str(concurrency), {})
            for who, page in targets:  # warm-up: imports, templates, connections
                run_load(port, page, sessions[who], concurrency * 2)
            for n in range(args.rounds):  # rounds alternate so outside load hits all alike
                for who, page in targets:
                    per.setdefault(f"{who} {page}", []).extend(
                        run_load(port, page, sessions[who], args.requests)
                    )
                print(f"c={concurrency}: Runde {n + 1}/{args.rounds} fertig", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)

    result = {"label": args.label, "documents": documents, "queries": counts, "pages": {}}
    print(f"\n== {args.label}: {documents} Dokumente, gunicorn 2 × 4 Threads ==")
    worst = 0.0
    for concurrency, per in samples.items():
        base = per["anonym /healthz"]
        b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
        print(
            f"\n-- Nebenläufigkeit {concurrency}: /healthz anonym p50 {b50:.2f} ms, "
            f"p99 {b99:.2f} ms --"
        )
        print(f"  {'Seite':<42} {'SQL':>4} {'p50 ms':>8} {'p99 ms':>8} {'p50 ×':>6} {'p99 ×':>6}")
        for key, values in per.items():
            who, _, page = key.partition(" ")
            p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
            queries = counts.get(who, {}).get(page, 0)
            print(
                f"  {key:<42} {queries:>4} {p50:8.2f} {p99:8.2f} {p50 / b50:6.1f} {p99 / b99:6.1f}"
            )
            result["pages"].setdefault(key, {})[concurrency] = {
                "queries": queries,
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "p50_ratio": round(p50 / b50, 1),
                "p99_ratio": round(p99 / b99, 1),
                "n": len(values),
            }
            if concurrency == "1" and who != "anonym" and page != "/healthz":
                worst = max(worst, p99 / b99)
    print(f"\nZiel Mitgliederseiten p99 ≤ 5 × /healthz bei c=1: schlechtester Wert {worst:.1f} ×")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"request_path-{args.label}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
