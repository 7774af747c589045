"""1-Click over KIM and eSE, the Django-free parts (benchmark, not a test).

    .venv/bin/python benchmarks/oneclick_benchmark.py [--sizes 1,10] [--count 3] [--ese 200]

1. a 1-Click delivery (Begleitdatei + a `.con` of N MiB) sealed by the practice (sign with its
   OSIG key, encrypt for the KV and itself) and opened by the KV (decrypt, verify signature and
   chain) — what `kim/inbound.py` does per mail before the intake;
2. eSE build + parse (body validated against eSE_body.xsd, header checks) per document.

One process pinned to one CPU; synthetic keys made from the running clock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from kvportal.core.quarters import Quarter  # noqa: E402
from kvportal.kim import clientmodule  # noqa: E402
from kvportal.oneclick import begleitdatei as bd  # noqa: E402
from kvportal.oneclick import ese  # noqa: E402

KV = "abrechnung@kv.example"
PRAXIS = "praxis@kv.example"


def _cert(cn, key, issuer=None, issuer_key=None, ca=False):
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )


def _card(cn, ca, ca_key):
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    osig, enc = (
        _cert(f"{cn} {k}", key, ca, ca_key) for k, key in zip(("OSIG", "ENC"), keys, strict=True)
    )
    return clientmodule.PemCard(osig_key=keys[0], osig_cert=osig, enc=[(enc, keys[1])], chain=[ca])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--ese", type=int, default=200)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _cert("Test-CA TEST-ONLY", ca_key, ca=True)
    praxis, kv = _card("Praxis", ca, ca_key), _card("KV", ca, ca_key)

    class Directory:
        def encryption_certificates(self, address):
            return [kv.enc[0][0]] if address == KV else []

    trust = clientmodule.Trust(anchors=[ca])
    quarter = Quarter.of(dt.date.today()).previous()
    for size in [int(s) for s in args.sizes.split(",")]:
        con = os.urandom(size * 1024 * 1024)
        name = "Z01981234500_01.01.2026_10.00.con"
        begleit = bd.build(
            bd.Begleitdatei(
                bsnr="981234500",
                quartal=quarter,
                testdaten=False,
                anhaenge=(name,),
                lieferungs_zeitpunkt=dt.datetime.now(dt.UTC),
            )
        )
        from email.message import EmailMessage

        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = PRAXIS, KV, "1-Click"
        msg["X-KIM-Dienstkennung"] = "1ClickAbrechnung;Lieferung;V2.0"
        msg.set_content("Lieferung")
        msg.add_attachment(begleit, maintype="application", subtype="xml", filename=bd.FILENAME)
        msg.add_attachment(con, maintype="application", subtype="octet-stream", filename=name)
        client = msg.as_bytes()
        seal = opened = 0.0
        for _ in range(args.count):
            t0 = time.perf_counter()
            sealed = clientmodule.seal(
                client, sender=PRAXIS, recipients=[KV], card=praxis, directory=Directory(),
                kas_threshold=1 << 40,
            )  # fmt: skip
            t1 = time.perf_counter()
            result = clientmodule.open_message(sealed.message, card=kv, trust=trust)
            t2 = time.perf_counter()
            assert result.decrypted, result.details
            seal, opened = seal + t1 - t0, opened + t2 - t1
        print(
            f"delivery {size} MiB: seal {seal / args.count:.2f} s, KV open "
            f"{opened / args.count:.2f} s, KOM-LE mail {len(sealed.message) / 1e6:.1f} MB"
        )
    doc = ese.EseDocument(
        profile=ese.PROFILES["38"],
        quarter=quarter,
        lanr="123456701",
        bsnr="981234500",
        given_name="Erika",
        family_name="Beispiel",
        practice_name="Praxis (synthetisch)",
        created=dt.date.today(),
        declaration_texts=("Erklärung (synthetisch).",),
        case_count=100,
    )
    t0 = time.perf_counter()
    for _ in range(args.ese):
        ese.parse(ese.build(doc))  # build also parses once
    each = (time.perf_counter() - t0) / args.ese
    print(f"eSE build + 2× parse/validate: {each * 1000:.1f} ms per document")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
