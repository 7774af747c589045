"""Benchmark (not a test): the member's document list and one download authorisation with an
empty archive and with one million documents over 5,000 BSNRs in PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kvportal_bench \
        .venv/bin/python benchmarks/documents_benchmark.py [--documents 1000000] [--reuse]

The database named in DATABASE_URL is dropped and created again (unless --reuse finds the
archive already loaded). Target: full archive < 2 × empty archive.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kvportal_bench")
os.environ.setdefault("KVPORTAL_DEBUG", "1")
os.environ.setdefault("KVPORTAL_HTTPS", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")
os.environ.setdefault("KVPORTAL_VAR_DIR", str(ROOT / "benchmarks" / "out"))

BSNR_COUNT = 5000
DOCTORS_PER_BSNR = 3
QUARTERS = 40  # ten years
PAGE_QUARTER = (2026, 2)


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django() -> None:
    import django

    django.setup()


def seed_registry():
    """5,000 practices with three doctors each; every practice has a Träger/holder account
    with the BSNR-wide right and three doctors with the own-LANR right."""
    from kvportal.accounts.constants import Right
    from kvportal.accounts.models import PortalRight, User
    from kvportal.members.constants import Bezirk, PracticeKind, Profession, Role
    from kvportal.members.identifiers import make_lanr
    from kvportal.members.models import Betriebsstaette, Person, Taetigkeit

    practices = Betriebsstaette.objects.bulk_create(
        Betriebsstaette(
            bsnr=f"95{n:05d}00",
            name=f"Praxis {n}",
            kind=PracticeKind.MVZ,
            city="Dresden",
            bezirk=Bezirk.DRESDEN,
        )
        for n in range(BSNR_COUNT)
    )
    persons = Person.objects.bulk_create(
        Person(
            lanr=make_lanr(f"{100000 + n:06d}", "01"),
            first_name="Bench",
            last_name=f"Arzt{n}",
            profession=Profession.ARZT,
        )
        for n in range(BSNR_COUNT * DOCTORS_PER_BSNR)
    )
    import datetime as dt

    Taetigkeit.objects.bulk_create(
        Taetigkeit(
            person=persons[i * DOCTORS_PER_BSNR + k],
            betriebsstaette=p,
            role=Role.ANGESTELLT,
            valid_from=dt.date(2015, 1, 1),
        )
        for i, p in enumerate(practices)
        for k in range(DOCTORS_PER_BSNR)
    )
    users = []
    for i, _p in enumerate(practices):
        users.append(User(username=f"traeger{i}", password="!"))
        for k in range(DOCTORS_PER_BSNR):
            users.append(User(username=f"arzt{i}_{k}", password="!", person=persons[i * 3 + k]))
    users = User.objects.bulk_create(users, batch_size=5000)
    rights = []
    per = 1 + DOCTORS_PER_BSNR
    for i, p in enumerate(practices):
        rights.append(PortalRight(user=users[i * per], betriebsstaette=p, right=Right.DOCS_BSNR))
        for k in range(DOCTORS_PER_BSNR):
            rights.append(
                PortalRight(user=users[i * per + 1 + k], betriebsstaette=p, right=Right.DOCS_LANR)
            )
    PortalRight.objects.bulk_create(rights, batch_size=5000)
    return practices, persons


def quarters():
    from kvportal.core.quarters import Quarter

    q = Quarter(*PAGE_QUARTER).next()
    out = []
    for _ in range(QUARTERS):
        out.append(q)
        q = q.previous()
    return out


def load_documents(total: int, practices, persons) -> float:
    """COPY `total` documents spread evenly over the practices and the last 40 quarters."""
    from django.db import connection

    from kvportal.documents import rules
    from kvportal.documents.models import Document, quarter_to_int

    table = Document._meta.db_table
    qs = quarters()
    deletion = {q: rules.deletion_date(q, "sonstiges") for q in qs}
    types = list(rules.DOC_TYPES)
    columns = (
        "betriebsstaette_id, quarter, lanr, person_id, doc_type, title, file, size, sha256, "
        "published_at, source, also_by_post, amount, deletion_date, notice_sent_at"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for n in range(total):
                p = practices[n % len(practices)]
                slot = n // len(practices)
                q = qs[slot % len(qs)]
                if slot % 5 in (1, 3):
                    person = persons[(n % len(practices)) * 3 + (slot % 3)]
                    lanr, person_id = person.lanr, str(person.pk)
                else:
                    lanr, person_id = "", "\\N"
                doc_type = types[slot % len(types)]
                sha = hashlib.sha256(f"{n}".encode()).hexdigest()
                published = f"{q.end.isoformat()} 08:{slot % 60:02d}:00+00"
                amount = f"{40000 + n % 9000}.00" if doc_type == "honorarbescheid" else "\\N"
                copy.write_row(
                    (
                        p.pk,
                        quarter_to_int(q),
                        lanr,
                        None if person_id == "\\N" else int(person_id),
                        doc_type,
                        f"{rules.DOC_TYPES[doc_type]} {q} Nr. {n}",
                        f"documents/{p.bsnr}/{quarter_to_int(q)}/{sha[:32]}.pdf",
                        1234,
                        sha,
                        published,
                        "import",
                        False,
                        None if amount == "\\N" else amount,
                        deletion[q],
                        None,
                    )
                )
        cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def use_database(name: str) -> None:
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


METRICS = (
    "Träger: Liste (Seite, HTTP)",
    "Träger: Liste (nur Abfragen)",
    "Träger: Download-Berechtigung",
    "Arzt (eigene LANR): Liste (Seite, HTTP)",
    "Arzt (eigene LANR): Liste (nur Abfragen)",
    "Arzt (eigene LANR): Download-Berechtigung",
)


def build_probes() -> dict:
    """The timed actions for the current database: a practice in the middle of the id range,
    its holder of the BSNR-wide right and one of its doctors with the own-LANR right."""
    from django.shortcuts import get_object_or_404
    from django.test import Client

    from kvportal.accounts.models import User
    from kvportal.core.quarters import Quarter
    from kvportal.documents import selectors

    quarter = Quarter(*PAGE_QUARTER)
    probes = {}
    for who, username in (
        ("Träger", f"traeger{BSNR_COUNT // 2}"),
        ("Arzt (eigene LANR)", f"arzt{BSNR_COUNT // 2}_1"),
    ):
        user = User.objects.get(username=username)
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)

        def page(client=client):
            response = client.get("/dokumente/", {"quartal": quarter.slug})
            assert response.status_code == 200, response.status_code

        def queries(user=user):
            qs = selectors.search_documents(user, quarter=quarter)
            qs.count()
            list(qs[:25])

        # the newest document the user may open (or any id when the archive is empty)
        target = (
            selectors.visible_documents(user).order_by("-id").values_list("pk", flat=True).first()
        )

        def authorise(user=user, target=target):
            qs = selectors.visible_documents(user).select_related("betriebsstaette")
            if target is None:
                qs.filter(pk=1).first()
            else:
                get_object_or_404(qs, pk=target)

        probes[f"{who}: Liste (Seite, HTTP)"] = page
        probes[f"{who}: Liste (nur Abfragen)"] = queries
        probes[f"{who}: Download-Berechtigung"] = authorise
    return probes


def measure(databases: dict[str, str], rounds: int, per_round: int) -> dict[str, dict]:
    """Alternate between the databases in rounds so that load from other processes on the
    machine hits both alike; returns {label: {metric: sorted samples in ms}}."""
    samples: dict[str, dict[str, list[float]]] = {
        label: {m: [] for m in METRICS} for label in databases
    }
    for _ in range(rounds):
        for label, name in databases.items():
            use_database(name)
            probes = build_probes()
            for metric in METRICS:
                func = probes[metric]
                func()  # warm-up
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    func()
                    samples[label][metric].append((time.perf_counter() - t0) * 1000)
    for per_metric in samples.values():
        for values in per_metric.values():
            values.sort()
    return samples


SQL_METRICS = (
    "Träger: SQL Liste (count + Seite)",
    "Träger: SQL Download-Berechtigung",
    "Arzt (eigene LANR): SQL Liste (count + Seite)",
    "Arzt (eigene LANR): SQL Download-Berechtigung",
)


def sql_times(databases: dict[str, str], repeat: int) -> dict[str, dict[str, list[float]]]:
    """Server-side time (planning + execution, EXPLAIN ANALYZE) of the SQL behind the list
    page and the download authorisation: what the indexes decide, without Python noise."""
    import json

    from django.db import connection

    from kvportal.accounts.models import User
    from kvportal.core.quarters import Quarter
    from kvportal.documents import selectors

    quarter = Quarter(*PAGE_QUARTER)

    def server_ms(queryset) -> float:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
        return plan[0]["Planning Time"] + plan[0]["Execution Time"]

    out: dict[str, dict[str, list[float]]] = {
        label: {m: [] for m in SQL_METRICS} for label in databases
    }
    for _ in range(repeat):
        for label, name in databases.items():
            use_database(name)
            for who, username in (
                ("Träger", f"traeger{BSNR_COUNT // 2}"),
                ("Arzt (eigene LANR)", f"arzt{BSNR_COUNT // 2}_1"),
            ):
                user = User.objects.get(username=username)
                qs = selectors.search_documents(user, quarter=quarter)
                count_qs = qs.order_by().values("pk")
                page = server_ms(qs[:25]) + server_ms(count_qs)
                target = (
                    selectors.visible_documents(user)
                    .order_by("-id")
                    .values_list("pk", flat=True)
                    .first()
                )
                auth = server_ms(
                    selectors.visible_documents(user)
                    .filter(pk=target or 1)
                    .select_related("betriebsstaette")
                )
                out[label][f"{who}: SQL Liste (count + Seite)"].append(page)
                out[label][f"{who}: SQL Download-Berechtigung"].append(auth)
    for per_metric in out.values():
        for values in per_metric.values():
            values.sort()
    return out


def report(samples: dict[str, dict], counts: dict[str, int]) -> float:
    def median(values):
        return statistics.median(values)

    def p95(values):
        return values[max(int(len(values) * 0.95) - 1, 0)]

    for label, per_metric in samples.items():
        print(f"\n== {label} ({counts[label]} Dokumente) ==")
        for metric, values in per_metric.items():
            print(
                f"  {metric:<42} Median {median(values):7.2f} ms   p95 {p95(values):7.2f} ms   "
                f"min {values[0]:6.2f} ms"
            )
    empty, full = samples["leeres Archiv"], samples["volles Archiv"]
    print("\n== Verhältnis voll / leer ==")
    worst = 0.0
    for metric in empty:
        ratio = median(full[metric]) / median(empty[metric])
        worst = max(worst, ratio)
        print(
            f"  {metric:<42} Median {ratio:5.2f} ×   "
            f"min {full[metric][0] / empty[metric][0]:5.2f} ×"
        )
    verdict = "erreicht" if worst < 2 else "VERFEHLT"
    print(f"\nZiel voll < 2 × leer: {verdict} (schlechtester Median-Wert {worst:.2f} ×)")
    return worst


def explain(user_name: str) -> None:
    from django.db import connection

    from kvportal.accounts.models import User
    from kvportal.core.quarters import Quarter
    from kvportal.documents import selectors

    user = User.objects.get(username=user_name)
    qs = selectors.search_documents(user, quarter=Quarter(*PAGE_QUARTER))[:25]
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        print("\n".join(row[0] for row in cursor.fetchall()))


def clone_database(url: str, source: str, target: str) -> None:
    import psycopg
    from psycopg import sql

    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname IN (%s, %s) AND pid <> pg_backend_pid()",
            [source, target],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="vorhandene Datenbanken verwenden")
    parser.add_argument("--explain", action="store_true", help="Abfragepläne ausgeben")
    args = parser.parse_args()

    url = os.environ["DATABASE_URL"]
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL muss auf PostgreSQL zeigen.")
    full_name = url.rpartition("/")[2]
    empty_name = f"{full_name}_leer"
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from kvportal.documents.models import Document
    from kvportal.members.models import Betriebsstaette, Person

    if not args.reuse:
        recreate_database(url)
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        seed_registry()
        print(
            f"Registry: {BSNR_COUNT} BSNR, {BSNR_COUNT * DOCTORS_PER_BSNR} Ärzte, "
            f"{BSNR_COUNT * (1 + DOCTORS_PER_BSNR)} Konten in {time.perf_counter() - t0:.1f} s"
        )
        connection.close()
        clone_database(url, full_name, empty_name)
        practices = list(Betriebsstaette.objects.order_by("pk"))
        persons = list(Person.objects.order_by("pk"))
        seconds = load_documents(args.documents, practices, persons)
        print(
            f"{args.documents} Dokumente per COPY geladen (inkl. Indizes, ANALYZE) "
            f"in {seconds:.1f} s"
        )
    databases = {"leeres Archiv": empty_name, "volles Archiv": full_name}
    counts = {}
    for label, name in databases.items():
        use_database(name)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        counts[label] = Document.objects.count()
    samples = measure(databases, args.rounds, args.per_round)
    worst = report(samples, counts)
    print("\n-- Serverseitige SQL-Zeit (EXPLAIN ANALYZE, Planung + Ausführung) --")
    worst_sql = report(sql_times(databases, args.rounds * 5), counts)
    worst = max(worst, worst_sql)
    if args.explain:
        use_database(full_name)
        explain(f"traeger{BSNR_COUNT // 2}")
        explain(f"arzt{BSNR_COUNT // 2}_1")
    sys.exit(0 if worst < 2 else 1)


if __name__ == "__main__":
    main()
