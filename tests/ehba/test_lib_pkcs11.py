"""The same signing code with the QES key on a PKCS#11 token (SoftHSM2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kvportal.cardlib.validation import RequiredSigner, validate_pdf_signatures
from tests.ehba.conftest import make_pdf

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
USER_PIN = "246810"


@pytest.fixture(scope="module")
def softhsm_token(tmp_path_factory, pki):
    if not shutil.which("softhsm2-util") or not Path(SOFTHSM_LIB).exists():
        pytest.skip("SoftHSM2 fehlt (Debian-Paket softhsm2): PKCS#11-Test übersprungen")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "eHBA-Test",
            "--pin",
            USER_PIN,
            "--so-pin",
            "13572468",
        ],
        check=True,
        capture_output=True,
    )
    from kvportal.cardlib.pkcs11 import load_lib, provision_token

    # SoftHSM2 reads SOFTHSM2_CONF at C_Initialize: another module's token (tests/kim/softhsm.py)
    # may have loaded the library in this worker already, so start it afresh on this folder
    load_lib(SOFTHSM_LIB).reinitialize()
    cert = provision_token(
        SOFTHSM_LIB,
        token_label="eHBA-Test",
        pin=USER_PIN,
        pki=pki,
        given_name="Carla",
        surname="Weber",
        telematik_id="1-114555000",
        profession="arzt",
        card_serial="80276001010000000555",
    )
    yield cert
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


def token(pki, batch_size=254):
    from kvportal.cardlib.pkcs11 import Pkcs11Token

    return Pkcs11Token(
        SOFTHSM_LIB, "eHBA-Test", ca_chain=[pki.qes_ca_cert, pki.root_cert], batch_size=batch_size
    )


def test_pkcs11_batch_signature_validates(softhsm_token, pki):
    from kvportal.cardlib.signing import sign_pdfs

    tok = token(pki, batch_size=2)
    assert tok.qes_certificate == softhsm_token  # read back from the token
    pdfs = [make_pdf(f"Dokument {i}") for i in range(3)]
    asked = []
    result = sign_pdfs(tok, pdfs, ask_pin=lambda i: asked.append(i) or USER_PIN)
    assert result.ok and asked == [0, 1] and len(result.signed) == 3
    carla = RequiredSigner("Carla", "Weber", "1-114555000")
    for original, signed in zip(pdfs, result.signed, strict=True):
        report = validate_pdf_signatures(
            signed,
            original=original,
            trust_roots=pki.trust_roots,
            revocation_check=pki.revocation_check,
            required_signers=[carla],
        )
        assert report.verdict == "valid", report.text_de()


def test_pkcs11_wrong_pin_is_a_card_error(softhsm_token, pki):
    from kvportal.cardlib.signing import sign_pdfs

    result = sign_pdfs(token(pki), [make_pdf()], ask_pin=lambda i: "000000")
    assert result.failed_at == 0
    assert result.error_code == "wrong_pin"
    assert "PIN.QES" in result.error_message_de


def test_pkcs11_batch_limit_per_login(softhsm_token, pki):
    from kvportal.cardlib.softcard import BatchLimitExceeded

    tok = token(pki, batch_size=1)
    with tok.open_qes_session(USER_PIN) as session:
        signer = session.pyhanko_signer()
        import asyncio

        asyncio.run(signer.async_sign_raw(b"x", "sha256"))
        with pytest.raises(BatchLimitExceeded):
            asyncio.run(signer.async_sign_raw(b"y", "sha256"))
