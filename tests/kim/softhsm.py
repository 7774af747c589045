"""A SoftHSM2 token with RSA keys and certificates for the PKCS#11 tests (SMC-B and eHBA): one
configuration folder per module, the keys not extractable, the environment restored after."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "87654321"


def token(tmp_path_factory, label: str, pin: str, objects: dict) -> Iterator[str]:
    """Yield the label of a fresh token holding, per `objects` label, the holder's private key
    and certificate (label and ID both the label); skip without SoftHSM2."""
    if not shutil.which("softhsm2-util") or not Path(SOFTHSM_LIB).exists():
        pytest.skip("SoftHSM2 fehlt (Debian-Paket softhsm2): PKCS#11-Test übersprungen")
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.util.rsa import decode_rsa_private_key

    from kvportal.cardlib.pkcs11 import load_lib

    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
         "--so-pin", SO_PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    lib = load_lib(SOFTHSM_LIB)  # the one object python-pkcs11 and the card library use
    lib.reinitialize()  # SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so start it afresh
    with lib.get_token(token_label=label).open(user_pin=pin, rw=True) as session:
        for name, holder in objects.items():
            der = holder.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
            attrs = decode_rsa_private_key(der)
            attrs.update({Attribute.TOKEN: True, Attribute.LABEL: name,
                          Attribute.ID: name.encode(), Attribute.SENSITIVE: True,
                          Attribute.EXTRACTABLE: False})  # fmt: skip
            session.create_object(attrs)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: name,
                    Attribute.ID: name.encode(),
                    Attribute.VALUE: holder.cert.public_bytes(serialization.Encoding.DER),
                    Attribute.SUBJECT: holder.cert.subject.public_bytes(),
                }
            )
    yield label
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old
    lib.finalize()  # the next user initialises with its own configuration
