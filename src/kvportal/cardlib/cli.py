# eHBA test tooling: PINs are read from options or getpass, never logged; test PKI/cards only.
"""``kvportal card ...`` — the software eHBA on the command line (Django-free).

Run as ``kvportal card <subcommand>`` (management command) or
``python -m kvportal.cardlib.cli <subcommand>``. Other modules add subcommands with
:func:`register_subcommand` (``kvportal.cardlib.agent`` is imported automatically if it
exists, so the local signing agent can plug in ``card agent``).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass as getpass_mod
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .certs import cert_to_pem, parse_card_certificate
from .signing import SigningError, sign_pdfs
from .softcard import CardError, PinType, SoftCard
from .storage import default_ehba_dir
from .testpki import TestPKI
from .tokens import sign_login_challenge

PLUGIN_MODULES = ("kvportal.cardlib.agent",)


@dataclass
class CliContext:
    directory: Path
    stdout: IO[str]
    stderr: IO[str]
    getpass: Callable[[str], str]
    _pki: TestPKI | None = field(default=None, repr=False)

    def pki(self) -> TestPKI:
        if self._pki is None:
            self._pki = TestPKI.load_or_create(self.directory / "pki")
        return self._pki

    def load_card(self, ref: str, **kw: Any) -> SoftCard:
        return SoftCard.find(ref, directory=self.directory, **kw)

    def out(self, text: str = "") -> None:
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        print(text, file=self.stderr)

    def secret(self, value: str | None, prompt: str) -> str:
        return value if value is not None else self.getpass(prompt)


Handler = Callable[[argparse.Namespace, CliContext], int]


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    handler: Handler


SUBCOMMANDS: dict[str, Subcommand] = {}


def register_subcommand(
    name: str,
    *,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    handler: Handler,
) -> None:
    """Add ``card <name>``; ``configure(parser)`` adds its arguments, ``handler(args, ctx)``
    returns the exit code. Re-registering a name replaces it."""
    SUBCOMMANDS[name] = Subcommand(name, help, configure, handler)


def _load_plugins() -> None:
    for module in PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


# --- subcommands -------------------------------------------------------------------------


def _add_card(p: argparse.ArgumentParser) -> None:
    p.add_argument("card", help="Karten-ID oder LANR (neueste Karte der Person)")


def _add_pin_type(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pin-type",
        choices=[t.value for t in PinType],
        required=True,
        help="ch = PIN.CH, qes = PIN.QES",
    )


def _cfg_issue(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lanr", required=True)
    p.add_argument("--given-name", required=True, help="Vorname")
    p.add_argument("--surname", required=True, help="Nachname")
    p.add_argument("--profession", choices=["arzt", "psychotherapeut"], default="arzt")
    p.add_argument("--telematik-id", help="Telematik-ID (Standard: erzeugt)")
    p.add_argument("--algorithm", choices=["brainpool", "rsa"], default="brainpool")
    p.add_argument("--batch-size", type=int, default=254, help="Dokumente je PIN.QES-Eingabe")
    p.add_argument("--valid-days", type=int, default=1826)
    p.add_argument("--transport-pin-ch")
    p.add_argument("--transport-pin-qes")
    p.add_argument("--puk-ch")
    p.add_argument("--puk-qes")
    p.add_argument("--json", action="store_true")


def _pins_from(args: argparse.Namespace) -> tuple[dict, dict]:
    tp = {PinType.CH: args.transport_pin_ch, PinType.QES: args.transport_pin_qes}
    puks = {PinType.CH: args.puk_ch, PinType.QES: args.puk_qes}
    return {k: v for k, v in tp.items() if v}, {k: v for k, v in puks.items() if v}


def _print_issued(ctx: CliContext, card: SoftCard, secrets_, as_json: bool) -> None:
    if as_json:
        ctx.out(
            json.dumps(
                {
                    "card_id": card.card_id,
                    "telematik_id": card.telematik_id,
                    "transport_pin_ch": secrets_.transport_pin_ch,
                    "transport_pin_qes": secrets_.transport_pin_qes,
                    "puk_ch": secrets_.puk_ch,
                    "puk_qes": secrets_.puk_qes,
                }
            )
        )
        return
    ctx.out(f"Testkarte {card.card_id} ausgestellt für {card.given_name} {card.surname}")
    ctx.out(f"Telematik-ID: {card.telematik_id}")
    ctx.out("PIN-Brief (nur jetzt angezeigt):")
    ctx.out(secrets_.text_de())
    ctx.out("Vor der ersten Nutzung beide Transport-PINs ändern: kvportal card change-pin …")


def _run_issue(args: argparse.Namespace, ctx: CliContext) -> int:
    tp, puks = _pins_from(args)
    card, secrets_ = SoftCard.issue(
        ctx.pki(),
        lanr=args.lanr,
        given_name=args.given_name,
        surname=args.surname,
        profession=args.profession,
        telematik_id=args.telematik_id,
        algorithm=args.algorithm,
        batch_size=args.batch_size,
        valid_days=args.valid_days,
        directory=ctx.directory,
        transport_pins=tp,
        puks=puks,
    )
    _print_issued(ctx, card, secrets_, args.json)
    return 0


def _cfg_list(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")


def _run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    cards = SoftCard.list(ctx.directory)
    if args.json:
        ctx.out(json.dumps([c.status().to_dict() for c in cards], ensure_ascii=False))
        return 0
    if not cards:
        ctx.out("Keine Testkarten vorhanden.")
    for c in cards:
        st = c.status()
        ctx.out(
            f"{st.card_id}  LANR {st.lanr}  {st.given_name} {st.surname}  "
            f"{st.telematik_id}  {st.STATE_DE[st.state]}"
        )
    return 0


def _cfg_status(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    p.add_argument("--json", action="store_true")


def _run_status(args: argparse.Namespace, ctx: CliContext) -> int:
    st = ctx.load_card(args.card).status()
    ctx.out(json.dumps(st.to_dict(), ensure_ascii=False) if args.json else st.text_de())
    return 0


def _cfg_change_pin(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    _add_pin_type(p)
    p.add_argument("--old", help="bisherige PIN oder Transport-PIN (sonst Abfrage)")
    p.add_argument("--new", help="neue PIN, 6–8 Ziffern (sonst Abfrage)")


def _run_change_pin(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    pin = PinType(args.pin_type)
    old = ctx.secret(args.old, f"Bisherige {pin.label} (oder Transport-PIN): ")
    new = args.new
    if new is None:
        new = ctx.getpass(f"Neue {pin.label}: ")
        if ctx.getpass(f"Neue {pin.label} wiederholen: ") != new:
            ctx.err("Die beiden Eingaben der neuen PIN stimmen nicht überein.")
            return 1
    card.change_pin(pin, old, new)
    ctx.out(f"{pin.label} geändert.")
    return 0


def _cfg_unblock(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    _add_pin_type(p)
    p.add_argument("--puk", help="PUK (sonst Abfrage)")
    p.add_argument("--new-pin", help="nur PIN.CH: neue PIN")


def _run_unblock(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    pin = PinType(args.pin_type)
    puk = ctx.secret(args.puk, f"PUK für die {pin.label}: ")
    card.unblock_pin(pin, puk, args.new_pin)
    ctx.out(f"{pin.label} entsperrt." + (" Neue PIN gesetzt." if args.new_pin else ""))
    return 0


def _cfg_set_transport(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    _add_pin_type(p)
    p.add_argument("--transport-pin", help="neue Transport-PIN (sonst Abfrage)")


def _run_set_transport(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    pin = PinType(args.pin_type)
    value = ctx.secret(args.transport_pin, f"Transport-PIN für die {pin.label}: ")
    card.set_transport_pin(pin, value)
    ctx.out(f"{pin.label} ist wieder im Transport-PIN-Zustand.")
    return 0


def _cfg_revoke(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    p.add_argument("--yes", action="store_true", help="ohne Rückfrage")


def _run_revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    if not args.yes:
        answer = input("Sperrung kann nicht rückgängig gemacht werden. Fortfahren? [j/N] ")
        if answer.strip().lower() not in ("j", "ja", "y", "yes"):
            ctx.out("Abgebrochen.")
            return 1
    card.revoke(ctx.pki())
    ctx.out(f"Karte {card.card_id} gesperrt (alle Zertifikate widerrufen).")
    return 0


def _cfg_follow_up(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    p.add_argument("--telematik-id", help="neue Telematik-ID (Standard: bisherige)")
    p.add_argument("--valid-days", type=int, default=1826)
    p.add_argument("--json", action="store_true")


def _run_follow_up(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    new, secrets_ = card.follow_up(
        ctx.pki(), telematik_id=args.telematik_id, valid_days=args.valid_days
    )
    _print_issued(ctx, new, secrets_, args.json)
    if not args.json:
        ctx.out(f"Folgekarte von {card.card_id}.")
    return 0


def _cfg_sign(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    p.add_argument("files", nargs="+", type=Path, help="PDF-Dateien")
    p.add_argument("--out-dir", type=Path, help="Zielordner (Standard: neben der Datei)")
    p.add_argument("--suffix", default="-signiert", help="Namenszusatz der signierten Datei")
    p.add_argument("--pin", help="PIN.QES (sonst Abfrage je Teilstapel)")
    p.add_argument("--reason", help="Signaturgrund (ShortText)")
    p.add_argument("--field-prefix", default="Signatur")


def _run_sign(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    pdfs = []
    for f in args.files:
        try:
            pdfs.append(f.read_bytes())
        except OSError as exc:
            ctx.err(f"Datei {f} kann nicht gelesen werden: {exc.strerror}")
            return 2
    parts = -(-len(pdfs) // card.batch_size)

    def ask(i: int) -> str:
        prompt = "PIN.QES: " if parts == 1 else f"PIN.QES für Teilstapel {i + 1} von {parts}: "
        return ctx.secret(args.pin, prompt)

    result = sign_pdfs(
        card, pdfs, ask_pin=ask, reason=args.reason, field_name_prefix=args.field_prefix
    )
    for src, data in zip(args.files, result.signed, strict=False):
        target_dir = args.out_dir or src.parent
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{src.stem}{args.suffix}{src.suffix or '.pdf'}"
        target.write_bytes(data)
        ctx.out(f"signiert: {target}")
    if result.error is not None:
        failed_at = result.failed_at if result.failed_at is not None else len(result.signed)
        where = f"Dokument {failed_at + 1} von {len(pdfs)}"
        ctx.err(f"Abbruch bei {where}: {result.error_message_de}")
        return 1
    ctx.out(f"{len(result.signed)} Dokument(e) signiert, {result.parts} PIN-Eingabe(n).")
    return 0


def _cfg_login(p: argparse.ArgumentParser) -> None:
    _add_card(p)
    p.add_argument("--challenge", required=True)
    p.add_argument("--audience", required=True, help="Portal-Adresse, z. B. https://portal.example")
    p.add_argument("--pin", help="PIN.CH (sonst Abfrage)")


def _run_login(args: argparse.Namespace, ctx: CliContext) -> int:
    card = ctx.load_card(args.card)
    pin = ctx.secret(args.pin, "PIN.CH: ")
    ctx.out(sign_login_challenge(card, pin, args.challenge, args.audience))
    return 0


def _cfg_pki(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["init", "info", "export"])
    p.add_argument("--algorithm", choices=["brainpool", "rsa"], default="brainpool")
    p.add_argument("--ocsp-url", default=None)
    p.add_argument("--target", type=Path, help="export: Zielordner für die CA-Zertifikate")


def _run_pki(args: argparse.Namespace, ctx: CliContext) -> int:
    directory = ctx.directory / "pki"
    if args.action == "init":
        kwargs: dict[str, Any] = {"algorithm": args.algorithm}
        if args.ocsp_url:
            kwargs["ocsp_url"] = args.ocsp_url
        pki = TestPKI.create(directory, **kwargs)
        ctx.out(f"Test-PKI angelegt in {pki.directory}")
        return 0
    pki = ctx.pki()
    if args.action == "info":
        for label, cert in (
            ("Root", pki.root_cert),
            ("HBA-CA (AUT/ENC)", pki.hba_ca_cert),
            ("qualifizierte CA (QES)", pki.qes_ca_cert),
        ):
            ctx.out(f"{label}: {cert.subject.rfc4514_string()}")
            ctx.out(f"  SHA-256: {parse_card_certificate(cert).fingerprint}")
        ctx.out(f"OCSP: {pki.ocsp_url}")
        return 0
    target = args.target or Path.cwd()
    target.mkdir(parents=True, exist_ok=True)
    for name, cert in (
        ("root", pki.root_cert),
        ("hba-ca", pki.hba_ca_cert),
        ("qes-ca", pki.qes_ca_cert),
    ):
        (target / f"{name}.pem").write_text(cert_to_pem(cert))
    ctx.out(f"CA-Zertifikate nach {target} exportiert.")
    return 0


def _cfg_ocsp(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8788)


def _run_ocsp(args: argparse.Namespace, ctx: CliContext) -> int:
    from .ocsp_server import OcspServer

    server = OcspServer(ctx.pki(), port=args.port)
    ctx.out(f"OCSP-Responder läuft auf {server.url} (Strg+C beendet).")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


for _name, _help, _cfg, _run in (
    ("issue", "Testkarte für eine Person ausstellen", _cfg_issue, _run_issue),
    ("list", "Testkarten auflisten", _cfg_list, _run_list),
    ("status", "Kartenstatus anzeigen", _cfg_status, _run_status),
    (
        "change-pin",
        "PIN ändern (auch Transport-PIN → persönliche PIN)",
        _cfg_change_pin,
        _run_change_pin,
    ),
    ("unblock", "gesperrte PIN mit der PUK entsperren", _cfg_unblock, _run_unblock),
    (
        "set-transport-pin",
        "PIN in den Transportzustand zurücksetzen (Test)",
        _cfg_set_transport,
        _run_set_transport,
    ),
    ("revoke", "Karte sperren (unumkehrbar)", _cfg_revoke, _run_revoke),
    ("follow-up", "Folgekarte mit neuen Schlüsseln ausstellen", _cfg_follow_up, _run_follow_up),
    ("sign", "PDF-Dateien qualifiziert signieren (PAdES)", _cfg_sign, _run_sign),
    ("login", "Anmelde-Challenge signieren", _cfg_login, _run_login),
    ("pki", "Test-PKI anlegen/anzeigen/exportieren", _cfg_pki, _run_pki),
    ("ocsp-server", "OCSP-Responder der Test-PKI starten", _cfg_ocsp, _run_ocsp),
):
    register_subcommand(_name, help=_help, configure=_cfg, handler=_run)


# --- entry point ---------------------------------------------------------------------------


def build_parser(prog: str = "kvportal card") -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(
        prog=prog, description="Software-eHBA und Test-PKI (nur Test!)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="Ablageordner (Standard: $KVPORTAL_EHBA_DIR oder ./var/ehba)",
    )
    sub = parser.add_subparsers(dest="subcommand", required=True, metavar="BEFEHL")
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_handler=cmd.handler)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    getpass: Callable[[str], str] | None = None,
    prog: str = "kvportal card",
) -> int:
    parser = build_parser(prog)
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return int(exc.code or 0)
    ctx = CliContext(
        directory=args.dir or default_ehba_dir(),
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        getpass=getpass or getpass_mod.getpass,
    )
    try:
        return args._handler(args, ctx)
    except (CardError, SigningError) as exc:
        ctx.err(f"Fehler: {exc.message_de}")
        return 1
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        ctx.err(f"Fehler: {exc}")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog="python -m kvportal.cardlib.cli"))
