"""Small asn1crypto specs gematik's KOM-LE format needs and asn1crypto lacks (no Django).

- GCMParameters (RFC 5084) for id-aes256-GCM,
- the gematik recipient-emails attribute (OID 1.2.276.0.76.4.173, gemSMIME_KOMLE):
  attribute values are SEQUENCE { IA5String email, IssuerAndSerialNumber }, one per address.
Importing this module registers the attribute with asn1crypto's CMS attribute table.
"""

from __future__ import annotations

from asn1crypto import (
    cms,
    core,
    tsp,  # noqa: F401  (registers signing_certificate_v2)
)

RECIPIENT_EMAILS_OID = "1.2.276.0.76.4.173"
AES256_GCM_OID = "2.16.840.1.101.3.4.1.46"


class GCMParameters(core.Sequence):
    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


class RecipientEmail(core.Sequence):
    _fields = [
        ("email", core.IA5String),
        ("issuer_and_serial", cms.IssuerAndSerialNumber),
    ]


class RecipientEmails(core.SetOf):
    _child_spec = RecipientEmail


cms.CMSAttributeType._map[RECIPIENT_EMAILS_OID] = "recipient_emails"
cms.CMSAttributeType._reverse_map = None
cms.CMSAttribute._oid_specs["recipient_emails"] = RecipientEmails
