"""`kim open FILE [--key PEM] [--trust PEM …] [--out FILE]` — open a KOM-LE mail layer by layer;
`kim serve --accounts F --store DIR --tls-cert PEM --tls-key PEM` — the Fachdienst servers;
`kim purge --accounts F --store DIR` — delete mails older than their dataTimeToLive;
`kim client --cards J --directory J|--fhir URL --trust PEM …` — the client module.

No Django needed: `kvportal kim open …` (management command) and tests call `main`.
Exit codes: 0 opened and verified; 1 opened, signature valid, signer's certificate not
verifiable (chain/validity); 2 signature invalid or message tampered with; 3 a layer is
unreadable; 4 no key given for an encrypted layer or the key is no recipient's (nothing is
written); 64 bad command line or unreadable input file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from . import komle, mail

EXIT_OK = 0
EXIT_CHAIN = 1
EXIT_INVALID = 2
EXIT_UNREADABLE = 3
EXIT_KEY = 4
EXIT_USAGE = 64


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _UsageError(message)


def build_parser(prog: str = "kim") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="KIM-Nachrichten (KOM-LE, gemSMIME_KOMLE) öffnen.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    op = sub.add_parser("open", help="KOM-LE-Mail, AuthEnvelopedData oder SignedData öffnen")
    op.add_argument("file", help="Datei: KOM-LE-Mail, AuthEnvelopedData (DER) oder SignedData")
    op.add_argument("--key", help="privater ENC-Schlüssel des Empfängers (PEM)")
    op.add_argument("--trust", action="append", default=[], help="Vertrauensanker (PEM), mehrfach")
    op.add_argument("--out", help="Inhalt der zuletzt geöffneten Ebene in diese Datei schreiben")
    serve = sub.add_parser("serve", help="Fachdienst-Mailserver (SMTP-Submission, POP3) starten")
    serve.add_argument(
        "--accounts",
        required=True,
        help="Kontendatei: je Zeile „adresse passwort [max_mail_size=N] [quota=N] [ttl=TAGE]“",
    )
    serve.add_argument("--store", required=True, help="Verzeichnis der Postfächer (Maildir)")
    serve.add_argument("--tls-cert", required=True, help="TLS-Zertifikat des Servers (PEM)")
    serve.add_argument("--tls-key", required=True, help="privater TLS-Schlüssel (PEM)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--smtp-port", type=int, default=587, help="SMTP mit STARTTLS (0 = aus)")
    serve.add_argument("--smtps-port", type=int, default=465, help="SMTP mit TLS (0 = aus)")
    serve.add_argument("--pop3-port", type=int, default=110, help="POP3 mit STLS (0 = aus)")
    serve.add_argument("--pop3s-port", type=int, default=995, help="POP3 mit TLS (0 = aus)")
    serve.add_argument(
        "--max-size", type=int, default=734_003_200, help="Obergrenze Byte je Mail (Server)"
    )
    serve.add_argument("--kas-port", type=int, default=0, help="Attachment-Service HTTP (0 = aus)")
    serve.add_argument("--kas-dir", help="Verzeichnis des Attachment-Service (Standard: STORE/kas)")
    serve.add_argument("--kas-public-url", help="öffentliche Basis-URL der Links (hinter Proxy)")
    serve.add_argument(
        "--relay", action="append", default=[], metavar="DOMAIN=HOST:PORT",
        help="Mail für diese Domain an diesen KIM-Anbieter weiterleiten (mehrfach möglich)",
    )  # fmt: skip
    serve.add_argument(
        "--peer-port",
        type=int,
        default=0,
        help="SMTP für die eingerichteten Anbieter (STARTTLS + Client-Zertifikat)",
    )
    serve.add_argument("--peer-ca", help="CA der Zertifikate der anderen Anbieter (PEM)")
    client = sub.add_parser("client", help="Clientmodul für die Praxissoftware (SMTPS/POP3S)")
    client.add_argument(
        "--cards", required=True,
        help="JSON: {adresse: {osig_key, osig_cert, enc_key, enc_cert, chain: [...]}} (PEM-Pfade)",
    )  # fmt: skip
    where = client.add_mutually_exclusive_group(required=True)
    where.add_argument("--directory", help="Verzeichnis als JSON-Datei {adresse: [PEM, …]}")
    where.add_argument("--fhir", help="FHIR-Directory des Portals, z. B. …/api/v1/kim/fhir/")
    client.add_argument("--fhir-token-file", help="Datei mit dem API-Token (Bereich „kim“)")
    client.add_argument("--trust", action="append", required=True, help="Vertrauensanker (PEM)")
    client.add_argument("--crl", action="append", default=[], help="Sperrliste (PEM/DER)")
    client.add_argument(
        "--ocsp", nargs="?", const="aia", help="OCSP prüfen (Adresse aus dem Zertifikat oder URL)"
    )
    client.add_argument("--fachdienst-ca", required=True, help="CA des Fachdienst-TLS (PEM)")
    client.add_argument("--tls-cert", required=True, help="TLS-Zertifikat des Clientmoduls")
    client.add_argument("--tls-key", required=True, help="privater TLS-Schlüssel (PEM)")
    client.add_argument("--kas", help="Attachment-Service, z. B. https://…/attachments/v2.4")
    client.add_argument("--limits", help="getLimits, z. B. https://…/AccountLimit/v1.1/limit")
    client.add_argument(
        "--transform", action="append", default=[],
        help="Umwandlung je Dienstkennung registrieren: modul:funktion[=ARG] (z. B. eArztbrief)",
    )  # fmt: skip
    client.add_argument("--host", default="127.0.0.1")
    client.add_argument("--smtp-port", type=int, default=465)
    client.add_argument("--pop3-port", type=int, default=995)
    chk = sub.add_parser("checkpassword", help="Dovecot-checkpassword gegen die KIM-Konten")
    chk.add_argument("--accounts", required=True, help="Kontendatei oder modul:fabrik")
    chk.add_argument("--mail-root", default="/var/vmail", help="Basis der Postfächer (HOME)")
    chk.add_argument("--mail-user", default="vmail", help="Besitzer der Postfächer (userdb uid)")
    chk.add_argument("--mail-group", default="vmail", help="Gruppe der Postfächer (userdb gid)")
    chk.add_argument("reply", nargs=argparse.REMAINDER, help="checkpassword-reply-Programm")
    flt = sub.add_parser("filter", help="Postfix-Vorfilter: nur KOM-LE, Grenzen der Konten")
    flt.add_argument("--accounts", required=True, help="Kontendatei oder modul:fabrik")
    flt.add_argument("--listen", default="127.0.0.1:10025")
    flt.add_argument("--next-hop", default="127.0.0.1:10026")
    purge = sub.add_parser("purge", help="abgelaufene Nachrichten löschen (dataTimeToLive)")
    purge.add_argument("--accounts", required=True, help="Kontendatei wie bei „serve“")
    purge.add_argument("--store", required=True, help="Verzeichnis der Postfächer (Maildir)")
    return parser


def _source(spec: str):
    from . import fachdienst, production

    try:
        return production.load_source(spec)
    except fachdienst.AccountFileError as exc:
        raise _UsageError(str(exc)) from exc


def _hostport(value: str, what: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise _UsageError(f"{what} „{value}“: erwartet host:port.")
    return host, int(port)


def filter_command(args, out: TextIO) -> int:
    """Postfix before-queue filter until interrupted."""
    import threading

    from . import production

    host, port = _hostport(args.listen, "--listen")
    controller = production.filter_controller(
        _source(args.accounts), host=host, port=port,
        next_hop=_hostport(args.next_hop, "--next-hop"),
    )  # fmt: skip
    try:
        controller.start()
    except Exception as exc:
        raise _UsageError(f"Filter auf {args.listen} nicht startbar ({exc}).") from exc
    out.write(f"KOM-LE-Filter: {args.listen} → {args.next_hop}. Beenden mit Strg+C.\n")
    out.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return EXIT_OK


def _server_tls(cert: str, key: str):
    import ssl

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        tls.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise _UsageError(f"TLS-Zertifikat/Schlüssel nicht ladbar ({exc}).") from exc
    return tls


def _pkcs11_card(cards_path: str, address: str, entry: dict):
    """Card entry {"pkcs11": {"lib", "token", "pin_file", "osig": "OSIG", "enc": "ENC"}}."""
    from . import pkcs11card

    conf = entry["pkcs11"]
    try:
        pin = _read(conf["pin_file"], "PIN-Datei").decode().strip()
        return pkcs11card.Pkcs11Card.open(
            conf["lib"], token_label=conf["token"], pin=pin,
            osig_label=conf.get("osig", "OSIG"), enc_label=conf.get("enc", "ENC"),
        )  # fmt: skip
    except (KeyError, TypeError) as exc:
        raise _UsageError(
            f"Kartendatei „{cards_path}“, Karte „{address}“: pkcs11-Angabe {exc} fehlt."
        ) from exc
    except pkcs11card.CardKeyError as exc:
        raise _UsageError(f"Karte „{address}“: {exc}") from exc


def _load_transform(spec: str) -> None:
    """`modul:funktion[=ARG]`: import the module and call funktion(ARG) (it registers)."""
    import importlib

    target, _, arg = spec.partition("=")
    module, _, func = target.partition(":")
    try:
        register = getattr(importlib.import_module(module), func or "register")
        register(arg) if arg else register()
    except (ImportError, AttributeError) as exc:
        raise _UsageError(f"--transform „{spec}“: Modul oder Funktion nicht gefunden.") from exc
    except ValueError as exc:
        raise _UsageError(f"--transform „{spec}“: {exc}") from exc


def _client_module(args, cards=None):
    """Build the ClientModule from the command line; German errors for every bad file.
    `cards` (address → Card) replaces `--cards` (the card agent brings its own card)."""
    import json
    import ssl

    from cryptography import x509 as cx509

    from . import clientmodule as cm

    for spec in (
        getattr(args, "transform", None) or ()
    ):  # issue 16: e.g. kvportal.arztbrief.kimhooks:from_config=F
        _load_transform(spec)
    try:
        raw = {} if cards is not None else json.loads(_read(args.cards, "Kartendatei").decode())
        if not isinstance(raw, dict) or not (raw or cards):
            raise ValueError
    except ValueError as exc:
        raise _UsageError(
            f"Kartendatei „{args.cards}“: erwartet JSON {{adresse: {{osig_key, osig_cert, "
            "enc_key, enc_cert}}}}."
        ) from exc
    cards = dict(cards or {})
    for address, entry in raw.items():
        if isinstance(entry, dict) and "pkcs11" in entry:
            cards[address] = _pkcs11_card(args.cards, address, entry)
            continue
        try:
            cards[address] = cm.PemCard.load(
                osig_key=entry["osig_key"], osig_cert=entry["osig_cert"],
                enc_key=entry["enc_key"], enc_cert=entry["enc_cert"],
                chain=entry.get("chain", []),
            )  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise _UsageError(
                f"Kartendatei „{args.cards}“, Karte „{address}“: Angabe {exc} fehlt."
            ) from exc
        except cm.ClientModuleError as exc:
            raise _UsageError(f"Karte „{address}“: {exc}") from exc
    try:
        if args.directory:
            directory = cm.FileDirectory.load(args.directory)
        else:
            token = None
            if args.fhir_token_file:
                token = _read(args.fhir_token_file, "Tokendatei").decode().strip()
            directory = cm.FhirDirectory(args.fhir, token=token)
    except cm.ClientModuleError as exc:
        raise _UsageError(str(exc)) from exc
    crls = []
    for path in args.crl:
        data = _read(path, "Sperrliste")
        try:
            crls.append(
                cx509.load_pem_x509_crl(data)
                if b"-----BEGIN" in data
                else cx509.load_der_x509_crl(data)
            )
        except ValueError as exc:
            raise _UsageError(f"Sperrliste „{path}“ ist keine lesbare CRL.") from exc
    upstream = ssl.create_default_context(cafile=None)
    try:
        upstream.load_verify_locations(cafile=args.fachdienst_ca)
    except (OSError, ssl.SSLError) as exc:
        raise _UsageError(f"Fachdienst-CA „{args.fachdienst_ca}“ nicht ladbar.") from exc
    ocsp = None
    if args.ocsp:
        from kvportal.cardlib.ocsp import ocsp_revocation_check

        ocsp = ocsp_revocation_check(url=None if args.ocsp == "aia" else args.ocsp)
    trust = cm.Trust(
        anchors=[c for path in args.trust for c in _load_certs(path)], crls=crls, ocsp=ocsp
    )
    return cm.ClientModule(
        cards=cm.CardsByAddress(cards), directory=directory, trust=trust,
        upstream_tls=upstream, local_tls=_server_tls(args.tls_cert, args.tls_key),
        kas=cm.attachments.KasClient(args.kas) if args.kas else None,
        limits=cm.attachments.LimitsClient(args.limits) if args.limits else None,
    )  # fmt: skip


def client(args, out: TextIO) -> int:
    """Run the client module's SMTPS and POP3S on 127.0.0.1 until interrupted."""
    import asyncio

    from . import clientmodule as cm

    module = _client_module(args)
    smtp = cm.smtp_controller(module, host=args.host, port=args.smtp_port)
    try:
        smtp.start()
    except Exception as exc:
        raise _UsageError(f"SMTP auf Port {args.smtp_port} nicht startbar ({exc}).") from exc

    async def run() -> None:
        server = await cm.start_pop3(module, args.host, args.pop3_port)
        out.write(
            f"KIM-Clientmodul: SMTPS {args.host}:{args.smtp_port}, "
            f"POP3S {args.host}:{args.pop3_port}. Benutzername: {cm.USER_FORMAT}. "
            "Beenden mit Strg+C.\n"
        )
        out.flush()
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise _UsageError(f"POP3 auf Port {args.pop3_port} nicht startbar ({exc}).") from exc
    finally:
        smtp.stop()
    return EXIT_OK


def purge(args, out: TextIO) -> int:
    from . import fachdienst

    source = _source(args.accounts)
    removed = fachdienst.MailStore(Path(args.store)).purge_all(source)
    out.write(f"{removed} abgelaufene Nachrichten gelöscht.\n")
    return EXIT_OK


def serve(args, out: TextIO) -> int:
    """Run SMTP (STARTTLS + implicit TLS), POP3 (STLS + implicit TLS), optionally the KAS."""
    import asyncio

    from . import fachdienst

    source = _source(args.accounts)
    tls = _server_tls(args.tls_cert, args.tls_key)
    store = fachdienst.MailStore(Path(args.store))
    controllers = []
    providers, peers = None, {}
    if args.relay or args.peer_port:
        import ssl

        from . import relay

        try:
            peers = relay.parse_peers(args.relay)
            if not args.peer_ca:
                raise relay.RelayConfigError("--peer-ca fehlt (CA der anderen KIM-Anbieter).")
            providers = relay.PeerProviders(
                peers, tls=relay.outbound_tls(args.tls_cert, args.tls_key, args.peer_ca)
            )
            if args.peer_port:
                inbound = relay.inbound_controller(
                    store, source=source, peers=peers, host=args.host, port=args.peer_port,
                    tls=relay.inbound_tls(args.tls_cert, args.tls_key, args.peer_ca),
                )  # fmt: skip
                inbound.start()
                controllers.append(inbound)
        except relay.RelayConfigError as exc:
            raise _UsageError(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            raise _UsageError(f"Anbieter-Verbindung nicht einrichtbar ({exc}).") from exc
    for port, implicit in ((args.smtp_port, False), (args.smtps_port, True)):
        if not port:
            continue
        smtp = fachdienst.smtp_controller(
            store, source=source, tls=tls, host=args.host, port=port, implicit_tls=implicit,
            max_size=args.max_size, relay=providers,
        )  # fmt: skip
        try:
            smtp.start()
        except Exception as exc:  # port in use etc.
            for started in controllers:
                started.stop()
            raise _UsageError(f"SMTP-Server auf Port {port} nicht startbar ({exc}).") from exc
        controllers.append(smtp)
    pop = fachdienst.Pop3Server(store, source=source, tls=tls)
    failed_port = None

    async def run() -> None:
        nonlocal failed_port
        servers = []
        for port, implicit in ((args.pop3_port, False), (args.pop3s_port, True)):
            if port:
                failed_port = port
                servers.append(await pop.start(args.host, port, implicit_tls=implicit))
        kas_runner = kas = None
        if args.kas_port:
            from . import attachments

            failed_port = args.kas_port
            kas = attachments.AttachmentService(
                Path(args.kas_dir or Path(args.store) / "kas"), source=source,
                public_url=args.kas_public_url, store=store,
            )  # fmt: skip
            kas_runner = await kas.start(args.host, args.kas_port)
        failed_port = None
        ports = [
            f"{name} {args.host}:{port}"
            for name, port in (
                ("SMTP/STARTTLS", args.smtp_port),
                ("SMTP/TLS", args.smtps_port),
                ("POP3/STLS", args.pop3_port),
                ("POP3/TLS", args.pop3s_port),
                ("KAS/HTTP", args.kas_port),
            )
            if port
        ]
        out.write(
            f"KIM-Fachdienst: {', '.join(ports)}, {len(source.addresses())} Konten. "
            "Beenden mit Strg+C.\n"
        )
        out.flush()
        try:
            while True:  # hourly dataTimeToLive purge (mailboxes and KAS)
                await asyncio.to_thread(store.purge_all, source)
                if kas is not None:
                    await asyncio.to_thread(kas.purge_expired)
                await asyncio.sleep(3600)
        finally:
            for server in servers:
                server.close()
            if kas_runner is not None:
                await kas_runner.cleanup()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise _UsageError(f"Server auf Port {failed_port} nicht startbar ({exc}).") from exc
    finally:
        for smtp in controllers:
            smtp.stop()
    return EXIT_OK


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _UsageError(f"{what} „{path}“ ist nicht lesbar ({exc.strerror}).") from exc


def _load_key(path: str) -> rsa.RSAPrivateKey:
    data = _read(path, "Schlüsseldatei")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise _UsageError(
            f"Schlüsseldatei „{path}“ enthält keinen unverschlüsselten privaten Schlüssel (PEM)."
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _UsageError(f"Schlüsseldatei „{path}“: kein RSA-Schlüssel.")
    return key


def _load_certs(path: str) -> list[x509.Certificate]:
    data = _read(path, "Zertifikatsdatei")
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise _UsageError(f"Zertifikatsdatei „{path}“ enthält kein lesbares Zertifikat.") from exc


def _show_mail(out: TextIO, title: str, part: mail.Part) -> None:
    out.write(f"{title}:\n")
    for name in ("From", "To", "Subject", "Date", "X-KIM-Dienstkennung", "X-KOM-LE-Version"):
        value = part.get(name)
        if value is not None:
            out.write(f"  {name}: {value}\n")


def open_layers(data: bytes, *, key, trust, out: TextIO) -> tuple[int, bytes | None]:
    """Open layer by layer; returns (exit code, content of the last CMS layer opened)."""
    last: bytes | None = None
    code = EXIT_OK
    for n in range(1, 20):
        kind = komle.content_type(data) if data[:1] == b"\x30" else None
        if kind == "authenticated_enveloped_data":
            if key is None:
                out.write(
                    f"Ebene {n}: verschlüsselt (AuthEnvelopedData) – kein Schlüssel (--key).\n"
                )
                return EXIT_KEY, None
            result = komle.decrypt(data, key)
            out.write(
                f"Ebene {n}: AuthEnvelopedData entschlüsselt (AES-256-GCM, Empfänger "
                f"{result.recipient_index + 1}; Empfängeradressen: "
                f"{', '.join(result.recipient_emails) or '–'}).\n"
            )
            data = last = result.content
            continue
        if kind == "signed_data":
            verified = komle.verify(data, trust=trust)
            state = "gültig" if verified.signature_valid else "UNGÜLTIG"
            out.write(f"Ebene {n}: SignedData – Signatur mathematisch {state}")
            out.write(f" (Unterzeichner: {verified.signer_subject}")
            if verified.signing_time:
                out.write(f"; signiert {verified.signing_time:%d.%m.%Y %H:%M} UTC")
            out.write(").\n")
            for problem in verified.problems:
                out.write(f"  {problem}\n")
            if verified.chain_valid:
                out.write("  Zertifikatskette gültig.\n")
            for message in verified.chain_messages:
                out.write(f"  {message}\n")
            if not verified.signature_valid:
                code = EXIT_INVALID
            elif not verified.chain_valid:
                code = max(code, EXIT_CHAIN)
            data = last = verified.content
            continue
        if data[:1] == b"\x30":
            out.write(f"Ebene {n}: nicht lesbar – keine CMS-Struktur, die KIM verwendet.\n")
            return EXIT_UNREADABLE, last
        try:
            part = mail.split(data)
        except komle.FormatError as exc:
            out.write(f"Ebene {n}: nicht lesbar – {exc}\n")
            return EXIT_UNREADABLE, last
        ctype = part.content_type
        if ctype == "message/rfc822":
            inner = mail.split(part.body)
            _show_mail(out, f"Ebene {n}: Client-Mail (message/rfc822)", inner)
            return code, last
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            smime = part.headers.get_param("smime-type") or "?"
            _show_mail(out, f"Ebene {n}: S/MIME-Teil ({smime})", part)
            body = mail.decoded_body(part)
            if komle.content_type(body) is None:
                out.write(
                    f"Ebene {n + 1}: nicht lesbar – der CMS-Inhalt ist beschädigt "
                    "(DER fehlerhaft, z. B. Zeilenenden in binärem Inhalt umgeschrieben).\n"
                )
                return EXIT_UNREADABLE, last
            data = body
            continue
        _show_mail(out, f"Ebene {n}: Mail ohne KOM-LE-Inhalt ({ctype})", part)
        return (code if last is not None else EXIT_UNREADABLE), last
    out.write("Zu viele Ebenen – Abbruch.\n")
    return EXIT_UNREADABLE, last


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    prog: str = "kim",
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser(prog).parse_args(list(sys.argv[1:] if argv is None else argv))
        if args.command == "serve":
            return serve(args, out)
        if args.command == "purge":
            return purge(args, out)
        if args.command == "client":
            return client(args, out)
        if args.command == "filter":
            return filter_command(args, out)
        if args.command == "checkpassword":
            from . import production

            try:
                source = production.load_source(args.accounts)
            except Exception as exc:  # Dovecot logs the program's stderr
                err.write(f"Kontenquelle „{args.accounts}“ nicht ladbar: {exc}\n")
                return production.CHECKPASSWORD_TEMP
            return production.checkpassword(
                source, args.reply, mail_root=args.mail_root,
                mail_user=args.mail_user, mail_group=args.mail_group,
            )  # fmt: skip
        data = _read(args.file, "Eingabedatei")
        key = _load_key(args.key) if args.key else None
        trust = [c for path in args.trust for c in _load_certs(path)]
    except _UsageError as exc:
        err.write(f"Fehler: {exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        code, last = open_layers(data, key=key, trust=trust, out=out)
    except komle.NotARecipientError as exc:
        err.write(f"Fehler: {exc} Es wurde nichts geschrieben.\n")
        return EXIT_KEY
    except komle.TamperedError as exc:
        err.write(f"Fehler: {exc} Es wurde nichts geschrieben.\n")
        return EXIT_INVALID
    except komle.KomleError as exc:
        err.write(f"Fehler: {exc}\n")
        return EXIT_UNREADABLE
    except Exception:
        err.write("Fehler: Die Datei konnte nicht geöffnet werden (unerwarteter Aufbau).\n")
        return EXIT_UNREADABLE
    if args.out:
        if last is None:
            err.write("Hinweis: keine Ebene geöffnet – --out wurde nicht geschrieben.\n")
        else:
            try:
                Path(args.out).write_bytes(last)
            except OSError as exc:
                err.write(f"Fehler: „{args.out}“ ist nicht schreibbar ({exc.strerror}).\n")
                return EXIT_USAGE
            out.write(f"Inhalt der letzten Ebene geschrieben: {args.out} ({len(last)} Byte)\n")
    return code
