"""Seed an empty database for the schemathesis run: one practice, a doctor with billing and
document rights, a document, a billing submission, and an API token (printed on stdout).
Synthetic data only. Run from the repository root: `.venv/bin/python .ci/api_seed.py`."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kvportal.settings")

import django


def main() -> None:
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone
    from tests.factories import BetriebsstaetteFactory, doctor_account

    from kvportal.accounts.constants import Right
    from kvportal.accounts.services import create_api_token
    from kvportal.billing.openapi import BSNR_SCHEMA
    from kvportal.core.quarters import Quarter
    from kvportal.documents import services as documents
    from kvportal.documents.pdfgen import minimal_pdf
    from kvportal.kvdt import generate
    from kvportal.members.constants import Role

    practice = BetriebsstaetteFactory(bsnr=BSNR_SCHEMA["example"])
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    quarter = Quarter.of(timezone.localdate()).previous()
    documents.publish_document(
        actor=None,
        betriebsstaette=practice,
        quarter=quarter,
        doc_type="honorarbescheid",
        title="Honorarbescheid (Testdaten)",
        content=minimal_pdf(["Honorarbescheid (Testdaten)"]),
        notify=False,
    )
    try:
        from kvportal.billing import services as billing

        content = generate(5, seed=1, quarter=quarter, bsnr=practice.bsnr)
        now = timezone.localtime()
        name = f"Z01{practice.bsnr}_{now:%d.%m.%Y_%H.%M}.con"
        billing.receive_submission(
            actor=user,
            betriebsstaette=practice,
            quarter=quarter,
            upload=SimpleUploadedFile(name, content),
            filename=name,
        )
    except Exception as exc:  # a refused file still leaves the API to test
        print(f"Hinweis: Testabrechnung nicht angelegt ({type(exc).__name__})", file=sys.stderr)
    _, raw = create_api_token(
        actor=user, name="schemathesis", scopes=["billing", "documents", "kim", "arztbrief"]
    )
    admin_file = os.environ.get("SCHEMATHESIS_KIM_ADMIN_TOKEN_FILE")
    if admin_file:  # the KV as KIM card issuer (directory administration, issue 15)
        from tests.factories import kv_staff

        from kvportal.accounts.constants import StaffRole

        registrar = kv_staff(StaffRole.ARZTREGISTER, username="schemathesis-arztregister")
        _, admin = create_api_token(actor=registrar, name="schemathesis", scopes=["kim_admin"])
        with open(admin_file, "w", encoding="ascii") as handle:
            handle.write(admin)
    print(raw)


if __name__ == "__main__":
    main()
