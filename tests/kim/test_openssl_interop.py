"""The SignedData layer against an independent implementation: Debian's `openssl cms`."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from kvportal.kim import komle

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI fehlt")


def test_openssl_verifies_our_signed_data(pki, tmp_path):
    content = b"Content-Type: message/rfc822\r\n\r\nSubject: Test\r\n\r\nHallo\r\n"
    (tmp_path / "signed.der").write_bytes(
        komle.sign(content, pki["signer"].key, pki["signer"].cert)
    )
    _, ca = pki["ca"].write(tmp_path, "ca")
    run = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signed.der"),
            "-CAfile",
            str(ca),
            "-purpose",
            "any",
            "-out",
            str(tmp_path / "content.bin"),
        ],
        capture_output=True,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert (tmp_path / "content.bin").read_bytes() == content


def test_openssl_rejects_our_signed_data_under_another_anchor(pki, tmp_path):
    (tmp_path / "signed.der").write_bytes(komle.sign(b"x", pki["signer"].key, pki["signer"].cert))
    _, other = pki["alice"].write(tmp_path, "other")
    run = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signed.der"),
            "-CAfile",
            str(other),
            "-purpose",
            "any",
            "-out",
            str(tmp_path / "c.bin"),
        ],
        capture_output=True,
    )
    assert run.returncode != 0


def test_we_verify_an_openssl_made_pss_signed_data(pki, tmp_path):
    key, cert = pki["signer"].write(tmp_path, "signer")
    content = b"Content-Type: message/rfc822\r\n\r\nSubject: von OpenSSL\r\n\r\nHallo\r\n"
    (tmp_path / "in.bin").write_bytes(content)
    run = subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-md",
            "sha256",
            "-in",
            str(tmp_path / "in.bin"),
            "-signer",
            str(cert),
            "-inkey",
            str(key),
            "-keyopt",
            "rsa_padding_mode:pss",
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "signed.der"),
        ],
        capture_output=True,
    )
    assert run.returncode == 0, run.stderr.decode()
    result = komle.verify((tmp_path / "signed.der").read_bytes(), trust=[pki["ca"].cert])
    assert result.content == content
    assert result.signature_valid, result.problems
    assert result.chain_valid, result.chain_messages


def test_we_decrypt_an_openssl_made_authenveloped_data(pki, tmp_path):
    """OpenSSL writes AES-256-GCM AuthEnvelopedData with RSA-OAEP-SHA256 (no recipient-emails;
    OpenSSL 3.0 cannot read that attribute's [2] tag, so the reverse direction is not tested)."""
    _, cert = pki["alice"].write(tmp_path, "alice")
    (tmp_path / "in.bin").write_bytes(b"Inhalt von OpenSSL")
    run = subprocess.run(
        ["openssl", "cms", "-encrypt", "-binary", "-aes-256-gcm", "-in", str(tmp_path / "in.bin"),
         "-recip", str(cert), "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
         "-keyopt", "rsa_mgf1_md:sha256", "-outform", "DER", "-out", str(tmp_path / "aed.der")],
        capture_output=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()
    der = (tmp_path / "aed.der").read_bytes()
    assert komle.decrypt(der, pki["alice"].key).content == b"Inhalt von OpenSSL"
    with pytest.raises(komle.NotARecipientError):
        komle.decrypt(der, pki["bob"].key)
