"""Screenshots of the main pages into docs/screens/ (issue 14), refreshed with

    .venv/bin/python scripts/screens.py [--out docs/screens]

Sets up a throw-away demo portal (SQLite in a temporary directory, `kvportal demo`), starts
it on a free local port, and photographs each page at 1280 px (desktop) and 390 px (phone)
with Playwright driving Debian's Chromium (/usr/bin/chromium, KVPORTAL_CHROMIUM). Nothing
leaves the machine; the demo data are synthetic."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KVPORTAL = Path(sys.executable).with_name("kvportal")
CHROMIUM = os.environ.get("KVPORTAL_CHROMIUM", "/usr/bin/chromium")
DEMO_PASSWORD = "Mipo-Demo!2026"
WIDTHS = {"desktop": 1280, "phone": 390}

#: (file name, user or None, path)
PAGES = [
    ("anmeldung", None, "/anmelden/"),
    ("passwort-vergessen", None, "/konto/passwort-vergessen/"),
    ("barrierefreiheit", None, "/barrierefreiheit/"),
    ("leichte-sprache", None, "/leichte-sprache/"),
    ("zugang-beantragen", None, "/zugang/beantragen/"),
    ("start-traeger", "krueger.t", "/"),
    ("start-angestellte-aerztin", "schmidt.l", "/"),
    ("dokumente", "krueger.t", "/dokumente/"),
    ("abrechnung", "krueger.t", "/abrechnung/"),
    ("zulassung", "berger.a", "/zulassung/"),
    ("profil-sitzungen", "krueger.t", "/konto/profil/"),
    ("zugriffsprotokoll", "krueger.t", "/konto/protokoll/"),
    ("praxispersonal", "krueger.t", "/konto/mitarbeiter/"),
    ("ehba-einrichtung", "krueger.t", "/ehba/einrichtung/"),
    # KV staff (demo TOTP key): the Arztregister's own registry pages (issue 14)
    ("register-betriebsstaetten", "kv.register", "/arztregister/kv/betriebsstaetten/"),
    ("register-personen", "kv.register", "/arztregister/kv/personen/"),
    ("register-betriebsstaette-anlegen", "kv.register", "/arztregister/kv/betriebsstaetten/neu/"),
    ("zugangsantraege", "kv.register", "/zugang/kv/antraege/"),
]
#: demo staff accounts: their second factor uses the demo TOTP key (portal/demo.py)
DEMO_TOTP_KEY_HEX = "3132333435363738393031323334353637383930"


def totp_code() -> str:
    from django_otp.oath import TOTP

    return f"{TOTP(bytes.fromhex(DEMO_TOTP_KEY_HEX)).token():06d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - local demo server
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"Fehler: Der Demo-Server unter {url} antwortet nicht.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screens")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Fehler: Chromium fehlt ({CHROMIUM}); apt-get install chromium", file=sys.stderr)
        return 69
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kvportal-screens-") as tmp:
        env = {
            **os.environ,
            "KVPORTAL_DEBUG": "1",
            "KVPORTAL_HTTPS": "0",
            "KVPORTAL_VAR_DIR": tmp,
            "KVPORTAL_URL": f"http://127.0.0.1:{port}",
            "KVPORTAL_EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        env.pop("DATABASE_URL", None)
        quiet = {"env": env, "cwd": tmp, "stdout": subprocess.DEVNULL}
        for command in (["migrate", "--noinput", "-v0"], ["demo"]):
            subprocess.run([str(KVPORTAL), *command], check=True, **quiet)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603 - our own command
            [str(KVPORTAL), "runserver", "--noreload", f"127.0.0.1:{port}"],
            stderr=subprocess.DEVNULL,
            **quiet,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/healthz")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                contexts = {}
                for name, user, path in PAGES:
                    if user not in contexts:
                        ctx = browser.new_context(locale="de-DE", base_url=base)
                        if user:
                            page = ctx.new_page()
                            page.goto("/anmelden/")
                            page.get_by_label("Nutzername").fill(user)
                            page.get_by_label("Passwort").fill(DEMO_PASSWORD)
                            page.get_by_role("button", name="Anmelden").click()
                            page.wait_for_load_state()
                            if user.startswith("kv.") and "/anmelden/code/" in page.url:
                                page.locator("input[name=token]").fill(totp_code())
                                page.get_by_role("button", name="Bestätigen").click()
                                page.wait_for_load_state()
                            page.close()
                        contexts[user] = ctx
                    page = contexts[user].new_page()
                    for label, width in WIDTHS.items():
                        page.set_viewport_size({"width": width, "height": 900})
                        page.goto(path)
                        page.wait_for_load_state("networkidle")
                        target = args.out / f"{name}-{label}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(target)
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
