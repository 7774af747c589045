"""Load test of the embedded default (issue 11): N members in parallel against a real portal
server on 127.0.0.1, mixed page views, receipt downloads (read, then write the access log) and
uploads (write + in-process check). Reports errors (HTTP 5xx, "database is locked" in the server
log, connection failures) and latency per kind.

    .venv/bin/python benchmarks/sqlite_load.py --users 10 --rounds 15            # SQLite
    .venv/bin/python benchmarks/sqlite_load.py --database postgres://postgres@127.0.0.1:5432/kv_x

Only 127.0.0.1 is contacted. Data: synthetic users seeded into a fresh database (SQLite in a
temporary directory; for PostgreSQL the given database is flushed and migrated - use your own).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
sys.path[:0] = [str(ROOT), str(ROOT / "src")]


def seed(users: int) -> None:
    """Child process: N doctors with the billing right and one received file each."""
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.utils import timezone
    from tests.factories import BetriebsstaetteFactory, doctor_account

    from kvportal.accounts.constants import Right
    from kvportal.billing.models import Submission
    from kvportal.core.quarters import Quarter
    from kvportal.core.storage import private_storage
    from kvportal.members.constants import Role

    quarter = Quarter.of(timezone.localdate()).previous()
    for n in range(users):
        practice = BetriebsstaetteFactory()
        user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
        user.username = f"last{n}"
        user.save(update_fields=["username"])
        name = private_storage.save(f"billing/{practice.bsnr}/load.con", ContentFile(b"x"))
        s = Submission.objects.create(
            betriebsstaette=practice,
            quarter=quarter.slug,
            kind="con",
            original_name="Z01.con",
            storage_name=name,
            size=1,
            sha256=uuid.uuid4().hex * 2,
            submitted_by=user,
            submitted_by_name="Last",
            timing="on_time",
            state="accepted",
            check_status=0,
            progress=100,
            checked_at=timezone.now(),
        )
        print(f"{user.username} {practice.pk} {s.pk} {practice.bsnr}")


class Member:
    def __init__(self, base: str, username: str, practice: str, sub: str, bsnr: str) -> None:
        self.base, self.username, self.practice, self.sub, self.bsnr = (
            base,
            username,
            practice,
            sub,
            bsnr,
        )
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.results: list[tuple[str, int, float]] = []

    def request(self, kind: str, path: str, data: bytes | None = None, headers=None) -> str:
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        req.add_header("Referer", self.base + path)
        start = time.perf_counter()
        try:
            with self.opener.open(req, timeout=120) as resp:
                body = resp.read()
                status = resp.status
                if kind != "login" and "/anmelden/" in resp.geturl():
                    status = 401  # not logged in: counted as an error of the load test
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        except OSError:
            body, status = b"", 599
        self.results.append((kind, status, time.perf_counter() - start))
        return body.decode("utf-8", "replace")

    def csrf(self, page: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        return found.group(1) if found else ""

    def login(self, password: str) -> None:
        token = self.csrf(self.request("login", "/anmelden/"))
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": self.username, "password": password}
        ).encode()
        self.request("login", "/anmelden/", data)

    def upload(self, n: int) -> None:
        page = self.request("page", "/abrechnung/einreichen/")
        quarter = re.search(r'<option value="(\d{4}-\d)"', page)
        boundary = uuid.uuid4().hex
        fields = {
            "csrfmiddlewaretoken": self.csrf(page),
            "betriebsstaette": self.practice,
            "quarter": quarter.group(1) if quarter else "",
        }
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        content = f"load test {self.username} {n} {uuid.uuid4().hex}\r\n".encode()
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="Z01{self.bsnr}_05.04.2026_10.{n % 60:02d}.con"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        self.request(
            "upload",
            "/abrechnung/einreichen/",
            b"".join(parts),
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    def run(self, rounds: int) -> None:
        for n in range(rounds):
            self.request("page", "/abrechnung/")
            self.request("download", f"/abrechnung/einreichung/{self.sub}/empfangsbestaetigung.pdf")
            self.upload(n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15, help="page+download+upload per user")
    parser.add_argument("--port", type=int, default=18310)
    parser.add_argument("--database", default="", help="DATABASE_URL (default: SQLite file)")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(args.seed)
        return 0
    password = "Test-Passwort!2026"  # tests.factories.PASSWORD (the seeded accounts)
    tmp = Path(tempfile.mkdtemp(prefix="kvportal-load-"))
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}",
        "DJANGO_SETTINGS_MODULE": "kvportal.settings",
        "DATABASE_URL": args.database or f"sqlite:///{tmp / 'load.sqlite3'}",
        "KVPORTAL_VAR_DIR": str(tmp / "var"),
        "KVPORTAL_SECRET_KEY": "load-test-only-secret-key-0123456789abcdef",
        "KVPORTAL_HTTPS": "0",
        "KVPORTAL_FAST_HASHER": "1",
        "KVPORTAL_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CELERY_BROKER_URL": "",
    }

    def django(*cmd: str) -> str:
        out = subprocess.run([PY, *cmd], env=env, cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"Fehler bei {' '.join(cmd)}:\n{out.stderr[-2000:]}")
        return out.stdout

    if args.database:
        django("-m", "django", "flush", "--noinput")
    django("-m", "django", "migrate", "--noinput", "-v", "0")
    accounts = [
        line.split() for line in django(__file__, "--seed", str(args.users)).splitlines() if line
    ]
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [PY, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{args.port}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                time.sleep(0.3)
        members = [Member(base, *a) for a in accounts]
        for m in members:
            m.login(password)
        threads = [threading.Thread(target=m.run, args=(args.rounds,)) for m in members]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
    finally:
        server.kill()
        server.wait()
        log.close()
    results = [r for m in members for r in m.results if r[0] != "login"]
    locked = (tmp / "server.log").read_text(errors="replace").count("database is locked")
    backend = "PostgreSQL" if args.database.startswith("postgres") else "SQLite"
    errors = sum(1 for _, status, _ in results if status >= 500 or status == 401)
    print(
        f"{backend}: {args.users} users × {args.rounds} rounds, {len(results)} requests in "
        f"{wall:.1f} s; errors (5xx/connection/not logged in): {errors}; "
        f"'database is locked': {locked}"
    )
    for kind in ("page", "download", "upload"):
        times = sorted(t for k, _, t in results if k == kind)
        if not times:
            continue
        codes = sorted({s for k, s, _ in results if k == kind})
        p95 = times[int(len(times) * 0.95) - 1] if len(times) > 1 else times[0]
        print(
            f"  {kind:8} n={len(times):4} p50={statistics.median(times) * 1000:7.0f} ms "
            f"p95={p95 * 1000:7.0f} ms max={times[-1] * 1000:7.0f} ms status={codes}"
        )
    return 1 if errors or locked else 0


if __name__ == "__main__":
    sys.exit(main())
