"""KBV identifiers LANR and BSNR (Richtlinie nach § 75 Abs. 7 SGB V; KVDT rules 049/050/162).

Pure functions without Django, shared by the registry, the access applications and the
KVDT validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANR_WEIGHTS = (4, 9, 4, 9, 4, 9)

#: LANRs that are no real doctors' numbers but are accepted with a warning.
PSEUDO_LANR_PREFIXES = ("999999", "555555")

#: KV Landes- and Bezirksstellen codes (first two BSNR digits, KVDT rule 162).
KV_REGIONS: dict[str, str] = {
    "01": "KV Schleswig-Holstein",
    "02": "KV Hamburg",
    "03": "KV Bremen",
    **{f"{n:02d}": "KV Niedersachsen" for n in range(6, 18)},
    "18": "KV Westfalen-Lippe (Dortmund)",
    "19": "KV Westfalen-Lippe (Münster)",
    "20": "KV Westfalen-Lippe",
    **{code: "KV Nordrhein" for code in ("21", "24", "25", "27", "28", "31", "37", "38")},
    **{f"{n:02d}": "KV Hessen" for n in range(39, 47)},
    **{f"{n:02d}": "KV Rheinland-Pfalz" for n in range(47, 52)},
    **{f"{n:02d}": "KV Baden-Württemberg" for n in range(52, 63)},
    **{f"{n:02d}": "KV Bayerns" for n in range(63, 72)},
    "72": "KV Berlin",
    "73": "KV Saarland",
    "78": "KV Mecklenburg-Vorpommern",
    **{code: "KV Brandenburg" for code in ("79", "80", "81", "83")},
    **{code: "KV Sachsen-Anhalt" for code in ("85", "86", "87", "88")},
    "93": "KV Thüringen",
    "94": "KV Sachsen (Bezirksstelle Chemnitz)",
    "95": "KV Sachsen (Bezirksstelle Dresden)",
    "96": "KV Sachsen (Bezirksstelle Leipzig)",
    "98": "KV Sachsen",
    "99": "KBV-Pseudo/Knappschaft",
}

#: BSNR prefixes of this KV (KV Sachsen and its three Bezirksstellen).
OWN_KV_PREFIXES = ("94", "95", "96", "98")


def lanr_check_digit(first_six: str) -> int:
    """Check digit of a LANR: digits 1–6 weighted 4,9,4,9,4,9; 10 - (sum mod 10), 10 → 0."""
    total = sum(int(d) * w for d, w in zip(first_six, LANR_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


@dataclass
class CheckResult:
    """Outcome of an identifier check: errors reject, warnings only inform."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_lanr(value: str) -> CheckResult:
    """Check a LANR (`nnnnnnmff`): nine digits and the check digit; pseudo numbers only warn."""
    result = CheckResult()
    if len(value) != 9 or not (value.isascii() and value.isdigit()):
        result.errors.append("Die LANR muss aus genau neun Ziffern bestehen.")
        return result
    if value[:6] in PSEUDO_LANR_PREFIXES:
        result.warnings.append(
            f"Die LANR {value} ist eine Pseudo-Arztnummer und keiner Person fest zugeordnet."
        )
        return result
    if int(value[6]) != lanr_check_digit(value[:6]):
        result.errors.append(f"Die Prüfziffer der LANR {value} (7. Stelle) ist falsch.")
    return result


def lanr_is_valid(value: str) -> bool:
    return check_lanr(value).ok


def fachgruppe_of(lanr: str) -> str:
    """Arztgruppe/Fachgruppe code: LANR digits 8–9."""
    return lanr[7:9]


def make_lanr(six: str, fachgruppe: str) -> str:
    """Build a valid LANR from a six-digit number and a two-digit Fachgruppe."""
    return f"{six}{lanr_check_digit(six)}{fachgruppe}"


def bsnr_region(bsnr: str) -> str | None:
    return KV_REGIONS.get(bsnr[:2])


def check_bsnr(value: str, *, own_kv_only: bool = False) -> CheckResult:
    """Check a BSNR (`kknnnnnmm`, no check digit): nine digits and a known KV region code."""
    result = CheckResult()
    if len(value) != 9 or not (value.isascii() and value.isdigit()):
        result.errors.append("Die BSNR muss aus genau neun Ziffern bestehen.")
        return result
    if value[:2] not in KV_REGIONS:
        result.errors.append(
            f"Die BSNR {value} beginnt mit {value[:2]}; das ist kein gültiger KV-Bereich."
        )
    elif own_kv_only and value[:2] not in OWN_KV_PREFIXES:
        result.errors.append(
            f"Die BSNR {value} gehört zur {KV_REGIONS[value[:2]]}, nicht zur KV Sachsen."
        )
    return result
