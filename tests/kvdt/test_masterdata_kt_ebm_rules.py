"""Kostenträger rules (SDKT: 202, 210, 763) and EBM rules on Begründungen (SDEBM: 703, 704).

Break/no-break from the ADT rule table (KVDT-Datensatzbeschreibung 6.03) with the severities
of the XPM catalogue (MeldungenKVDT.xml: 202 Info, 210/763/703/704 Warnung). The KBV test file
Z01 (4/2026) is checked against synthetic master files in the published formats (SDKT schema
kts 1.05, SDEBM 1.62) built from the file's own values.
"""

from __future__ import annotations

import pytest

from kvportal.core.quarters import Quarter
from kvportal.kvdt.masterdata import MasterDataError, load_sdebm, load_sdkt
from tests.kvdt.stammdaten import gnr, kostentraeger, sdebm, sdkt
from tests.kvdt.test_masterdata_rules import check, file_values, hits
from tests.kvdt.test_rule_table import Z01, load, put

Q = Quarter(2026, 4)
KT_RULES = {"202", "210", "763"}


@pytest.fixture
def z01():
    return load(Z01)


def cases(records):
    return [rec for rec in records if rec[0][1] in ("0101", "0102", "0103", "0104")]


def kt_entries(records, *, drop_ik=None, fee=None, excluded=None):
    """One Kostentraeger per VKNR (4104) of the file with the IKs (4111) of its cases."""
    by_vknr: dict[str, set[str]] = {}
    go: dict[str, str] = {}
    for rec in cases(records):
        d = dict(rec)
        by_vknr.setdefault(d["4104"], set()).add(d["4111"])
        go[d["4104"]] = d["4121"]
    return [
        kostentraeger(
            v,
            sorted(iks - {drop_ik}),
            fee_schedule=(fee or {}).get(v, go[v]),
            excluded_kvs=(excluded or {}).get(v, ()),
        )
        for v, iks in sorted(by_vknr.items())
    ]


def kt_check(tmp_path, records, **kw):
    (tmp_path / "SDKT_Q4_2026.xml").write_bytes(sdkt(kt_entries(records, **kw)))
    return check(tmp_path, records)


def test_loader_reads_fee_schedule_and_excluded_kvs(tmp_path):
    path = tmp_path / "SDKT_Q4_2026.xml"
    path.write_bytes(
        sdkt([kostentraeger("38825", ["109999001"], fee_schedule="1", excluded_kvs=["17", "72"])])
    )
    (entry,) = load_sdkt(path).entries
    assert entry.fee_schedule == "1" and entry.excluded_kvs == ("17", "72")
    path.write_bytes(sdkt([kostentraeger("38825", ["109999001"], excluded_kvs=["7"])]))
    with pytest.raises(MasterDataError, match="unz_kv_geltungsbereich „7“ muss zwei Ziffern"):
        load_sdkt(path)


def test_matching_sdkt_gives_no_message_and_the_rules_ran(tmp_path, z01):
    report = kt_check(tmp_path, z01)
    assert not KT_RULES & report.rules()
    assert not KT_RULES & set(report.not_checked)


# ---- 202: "Existenzprüfung Kassendatei": Krankenkassennummer (IK, 4111) in the SDKT (Info)


def test_202_ik_not_in_the_sdkt(tmp_path, z01):
    ik = "104071004"
    n = sum(1 for rec in cases(z01) if dict(rec)["4111"] == ik)
    found = hits(kt_check(tmp_path, z01, drop_ik=ik), "202")
    assert n and len(found) == n and {m.severity for m in found} == {"I"}
    assert all(ik in m.text for m in found)


# ---- 210: Gebührenordnung (4121) = that of the Kostenträger, cases of the billing quarter
# with 4122 < 80 (Warnung)


def test_210_fee_schedule_differs(tmp_path, z01):
    vknr = "25984"
    n = sum(1 for rec in cases(z01) if dict(rec)["4104"] == vknr)
    found = hits(kt_check(tmp_path, z01, fee={vknr: "2"}), "210")
    assert n and len(found) == n and {m.severity for m in found} == {"W"}
    assert "„2“" in found[0].text


def test_210_not_for_abrechnungsgebiet_80_or_more(tmp_path, z01):
    vknr = "25984"
    for rec in cases(z01):
        if dict(rec)["4104"] == vknr:
            put(rec, "4122", "80")
    assert not hits(kt_check(tmp_path, z01, fee={vknr: "2"}), "210")


# ---- 763: the KV derived from digits 1-2 of the BSNR (0201) must not be an
# unz_kv_geltungsbereich of the Kostenträger (Warnung)


def test_763_kostentraeger_not_valid_in_the_practices_kv(tmp_path, z01):
    # besa 0201 = 136926300: Bezirksstelle 13 (Osnabrück) belongs to KV 17 (Niedersachsen)
    vknr = "37601"
    n = sum(1 for rec in cases(z01) if dict(rec)["4104"] == vknr)
    found = hits(kt_check(tmp_path, z01, excluded={vknr: ["17"]}), "763")
    assert n and len(found) == n and {m.severity for m in found} == {"W"}
    assert "„17“" in found[0].text and vknr in found[0].text
    assert not hits(kt_check(tmp_path, z01, excluded={vknr: ["38", "72"]}), "763")


# ---- 703 / 704: Begründungen of the EBM master file


def _ebm(records, special):
    return [special.get(c) or gnr(c) for c in sorted(file_values(records, "5001"))]


def test_loader_reads_the_begruendungen(tmp_path):
    path = tmp_path / "SDEBM_01.62_74_tf2026q4_nr1.xml"
    path.write_bytes(sdebm(Q, [gnr("31196", ops=["5-530", "5-531.1"], reasons=["31100", "31101"])]))
    g = load_sdebm(path).gnrs["31196"]
    assert g.reason_ops == ("5-530", "5-531.1") and g.reason_gnrs == ("31100", "31101")
    path.write_bytes(sdebm(Q, [gnr("31196")]))
    assert load_sdebm(path).gnrs["31196"].reason_ops is None


def test_703_ops_not_among_the_gnrs_ops(tmp_path, z01):
    ops = {v for rec in cases(z01) for f, v in rec if f == "5035"}
    code = "31196"  # billed twice with a 5035
    special = {code: gnr(code, lists=[("SEQUENZ", ["5035"])], ops=["9-999"])}
    found = hits(check(tmp_path, z01, ebm=_ebm(z01, special)), "703")
    assert len(found) == 2 and {m.severity for m in found} == {"W"} and code in found[0].text
    # one of the file's OPS codes, or a category it starts with, satisfies the rule
    ok = {code: gnr(code, lists=[("SEQUENZ", ["5035"])], ops=["9-999", *sorted(ops)])}
    assert not hits(check(tmp_path, z01, ebm=_ebm(z01, ok)), "703")
    prefix = {code: gnr(code, lists=[("SEQUENZ", ["5035"])], ops=sorted({o[:5] for o in ops}))}
    assert not hits(check(tmp_path, z01, ebm=_ebm(z01, prefix)), "703")


def test_703_not_when_5035_is_not_required(tmp_path, z01):
    code = "31196"
    special = {code: gnr(code, ops=["9-999"])}  # no gnr_zusatzangabe 5035: rule 702 not met
    assert not hits(check(tmp_path, z01, ebm=_ebm(z01, special)), "703")


def test_704_gnr_reason_not_among_the_gnrs_reasons(tmp_path, z01):
    code = "31196"
    for rec in cases(z01):
        for i, (f, v) in enumerate(rec):
            if f == "5001" and v == code:
                rec.insert(i + 1, ["5036", "31101"])
    lists = [("AUSWAHL", ["5035", "5036"])]
    wrong = {code: gnr(code, lists=lists, reasons=["31100"])}
    found = hits(check(tmp_path, z01, ebm=_ebm(z01, wrong)), "704")
    assert len(found) == 2 and {m.severity for m in found} == {"W"}
    right = {code: gnr(code, lists=lists, reasons=["31100", "31101"])}
    assert not hits(check(tmp_path, z01, ebm=_ebm(z01, right)), "704")
