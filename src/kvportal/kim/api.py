# Security: bearer token with scope „kim“ (accounts.api.api_view); only published entries
# (doctors with consent not revoked) and only valid ENC certificates are served.
"""KIM directory API in the shape of the gematik FHIR-Directory search (FHIR R4):
Practitioner, PractitionerRole, Organization, Endpoint under /api/v1/kim/fhir/."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.db.models import Q
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from kvportal import audit
from kvportal.accounts.api import NOT_FOUND_TEXT, api_view, json_error
from kvportal.accounts.constants import ApiScope
from kvportal.audit.models import Activity
from kvportal.kim import selectors
from kvportal.kim.models import AccountKind, DirectoryEntry, EntryKind, KimAccount

FHIR_JSON = "application/fhir+json"
TELEMATIK_ID = "https://gematik.de/fhir/sid/telematik-id"
LANR = "https://fhir.kbv.de/NamingSystem/KBV_NS_Base_ANR"
CONNECTION_TYPE = "https://gematik.de/fhir/directory/CodeSystem/EndpointDirectoryConnectionType"
CERT_EXTENSION = "https://kvportal.example/fhir/StructureDefinition/encryption-certificate"
MAX_COUNT = 100
DEFAULT_COUNT = 20

#: search parameters per resource type (others are refused with 400)
PARAMS = {
    "Organization": {"name", "identifier", "address-city", "address-postalcode", "_count"},
    "Practitioner": {"name", "family", "given", "identifier", "_count"},
    "PractitionerRole": {
        "name",
        "specialty",
        "identifier",
        "address-city",
        "address-postalcode",
        "_count",
    },
    "Endpoint": {"address", "name", "organization", "_count"},
}


class BadParameter(ValueError):
    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _params(request, resource: str) -> tuple[dict[str, str], int]:
    allowed = PARAMS[resource]
    params = {}
    for key in request.GET:
        if key not in allowed:
            raise BadParameter(
                f"Der Suchparameter „{key}“ wird für {resource} nicht unterstützt "
                f"(erlaubt: {', '.join(sorted(allowed))}).",
                key,
            )
        value = request.GET.get(key, "").strip()
        if "\x00" in value or len(value) > 200:
            raise BadParameter(
                f"„{key}“ enthält ein Nullzeichen oder ist länger als 200 Zeichen.", key
            )
        params[key] = value
    raw = params.pop("_count", "")
    count = DEFAULT_COUNT
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_COUNT:
            raise BadParameter(
                f"„_count“ muss eine ganze Zahl von 1 bis {MAX_COUNT} sein.", "_count"
            )
        count = int(raw)
    return params, count


def _identifier_value(raw: str) -> str:
    """FHIR token `system|value` or a bare value."""
    return raw.split("|", 1)[1] if "|" in raw else raw


def _address(entry: DirectoryEntry) -> list[dict]:
    if not (entry.street or entry.city):
        return []
    return [
        {
            "use": "work",
            "line": [entry.street] if entry.street else [],
            "postalCode": entry.postal_code,
            "city": entry.city,
            "country": "DE",
        }
    ]


def _endpoint_ref(account: KimAccount) -> dict:
    return {"reference": f"Endpoint/kim-{account.pk}", "display": account.address}


def organization(entry: DirectoryEntry) -> dict:
    accounts = selectors.addresses_of(entry)
    return {
        "resourceType": "Organization",
        "id": f"org-{entry.pk}",
        "meta": {"lastUpdated": entry.changed_at.isoformat()},
        "identifier": [{"system": TELEMATIK_ID, "value": entry.telematik_id}],
        "active": entry.active,
        "name": entry.display_name,
        "alias": [entry.department] if entry.department else [],
        "address": _address(entry),
        "endpoint": [_endpoint_ref(a) for a in accounts],
        **({"extension": _description(entry)} if entry.description else {}),
    }


def _description(entry: DirectoryEntry) -> list[dict]:
    return [
        {
            "url": "https://kvportal.example/fhir/StructureDefinition/description",
            "valueString": entry.description,
        }
    ]


def practitioner(entry: DirectoryEntry) -> dict:
    identifiers = [{"system": TELEMATIK_ID, "value": entry.telematik_id}]
    if entry.person is not None and entry.person.lanr:
        identifiers.append({"system": LANR, "value": entry.person.lanr})
    name: dict[str, str | list[str]] = {
        "use": "official",
        "text": entry.display_name,
        "family": entry.family_name,
    }
    if entry.given_name:
        name["given"] = [entry.given_name]
    if entry.title:
        name["prefix"] = [entry.title]
    return {
        "resourceType": "Practitioner",
        "id": f"pra-{entry.pk}",
        "meta": {"lastUpdated": entry.changed_at.isoformat()},
        "identifier": identifiers,
        "active": entry.active,
        "name": [name],
        "qualification": ([{"code": {"text": entry.specialty}}] if entry.specialty else []),
    }


def practitioner_role(entry: DirectoryEntry) -> dict:
    accounts = selectors.addresses_of(entry)
    role = {
        "resourceType": "PractitionerRole",
        "id": f"role-{entry.pk}",
        "meta": {"lastUpdated": entry.changed_at.isoformat()},
        "identifier": [{"system": TELEMATIK_ID, "value": entry.telematik_id}],
        "active": entry.active,
        "practitioner": {
            "reference": f"Practitioner/pra-{entry.pk}",
            "display": entry.display_name,
        },
        "specialty": [{"text": entry.specialty}] if entry.specialty else [],
        "endpoint": [_endpoint_ref(a) for a in accounts],
    }
    org = _organization_entry_of(entry)
    if org is not None:
        role["organization"] = {
            "reference": f"Organization/org-{org.pk}",
            "display": org.display_name,
        }
    elif entry.organization:
        role["organization"] = {"display": entry.organization}
    return role


def _organization_entry_of(entry: DirectoryEntry) -> DirectoryEntry | None:
    if not entry.betriebsstaette_id:
        return None
    return (
        selectors.published_entries()
        .filter(kind=EntryKind.ORGANIZATION, betriebsstaette_id=entry.betriebsstaette_id)
        .first()
    )


def endpoint(account: KimAccount, entry: DirectoryEntry) -> dict:
    data = {
        "resourceType": "Endpoint",
        "id": f"kim-{account.pk}",
        "status": "active" if account.usable() else "off",
        "connectionType": {"system": CONNECTION_TYPE, "code": "kim-1.5", "display": "KIM 1.5"},
        "name": account.department or entry.display_name,
        "payloadType": [{"text": "KIM-Mail;Default;V1.0"}],
        "address": f"mailto:{account.address}",
        "managingOrganization": (
            {"reference": f"Organization/org-{entry.pk}", "display": entry.display_name}
            if entry.kind == EntryKind.ORGANIZATION
            else {"display": entry.organization or entry.display_name}
        ),
    }
    pem = selectors.valid_certificate(entry)
    if pem:
        der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
        data["extension"] = [
            {"url": CERT_EXTENSION, "valueBase64Binary": base64.b64encode(der).decode()}
        ]
    return data


def _bundle(request, resources: list[dict], total: int) -> JsonResponse:
    return JsonResponse(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": [
                {
                    "fullUrl": request.build_absolute_uri(
                        f"/api/v1/kim/fhir/{r['resourceType']}/{r['id']}"
                    ),
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in resources
            ],
        },
        content_type=FHIR_JSON,
    )


def _entries(kind: str, params: dict[str, str]):
    qs = selectors.published_entries().filter(kind=kind).select_related("person")
    if params.get("name"):
        for word in params["name"].split():
            qs = qs.filter(
                Q(display_name__icontains=word)
                | Q(organization__icontains=word)
                | Q(department__icontains=word)
            )
    if params.get("family"):
        qs = qs.filter(family_name__icontains=params["family"])
    if params.get("given"):
        qs = qs.filter(given_name__icontains=params["given"])
    if params.get("identifier"):
        value = _identifier_value(params["identifier"])
        qs = qs.filter(Q(telematik_id__iexact=value) | Q(person__lanr=value))
    if params.get("specialty"):
        qs = qs.filter(specialty__icontains=params["specialty"])
    if params.get("address-city"):
        qs = qs.filter(city__icontains=params["address-city"])
    if params.get("address-postalcode"):
        qs = qs.filter(postal_code__startswith=params["address-postalcode"])
    return qs.order_by("display_name", "pk")


def _search(request, resource: str, build):
    try:
        params, count = _params(request, resource)
    except BadParameter as exc:
        return json_error(400, str(exc), feld=exc.field)
    audit.record(
        actor=request.user,
        activity=Activity.VIEW,
        object_type=f"kim.fhir.{resource}",
        object_repr=f"KIM-Verzeichnis {resource} (API)",
        detail={"via": "api", "params": sorted(params)},
    )
    return build(params, count)


@require_GET
@api_view(scope=ApiScope.KIM)
def search_organization(request):
    def build(params, count):
        qs = _entries(EntryKind.ORGANIZATION, params)
        return _bundle(request, [organization(e) for e in qs[:count]], qs.count())

    return _search(request, "Organization", build)


@require_GET
@api_view(scope=ApiScope.KIM)
def search_practitioner(request):
    def build(params, count):
        qs = _entries(EntryKind.PRACTITIONER, params)
        return _bundle(request, [practitioner(e) for e in qs[:count]], qs.count())

    return _search(request, "Practitioner", build)


@require_GET
@api_view(scope=ApiScope.KIM)
def search_practitioner_role(request):
    def build(params, count):
        qs = _entries(EntryKind.PRACTITIONER, params)
        return _bundle(request, [practitioner_role(e) for e in qs[:count]], qs.count())

    return _search(request, "PractitionerRole", build)


@require_GET
@api_view(scope=ApiScope.KIM)
def search_endpoint(request):
    def build(params, count):
        accounts = selectors.live_accounts()
        if params.get("address"):
            value = params["address"]
            value = value[7:] if value.lower().startswith("mailto:") else value
            accounts = accounts.filter(address__iexact=value)
        if params.get("name"):
            accounts = accounts.filter(
                Q(address__icontains=params["name"]) | Q(department__icontains=params["name"])
            )
        if params.get("organization"):
            ref = params["organization"].removeprefix("Organization/").removeprefix("org-")
            if not (ref.isascii() and ref.isdigit()):
                return json_error(
                    400, "„organization“ erwartet Organization/org-<id>.", feld="organization"
                )
            org = (
                selectors.published_entries()
                .filter(pk=int(ref), kind=EntryKind.ORGANIZATION)
                .first()
            )
            if org is not None and org.betriebsstaette_id is None:  # the KV's own entry
                accounts = accounts.filter(kind=AccountKind.SERVICE, service_entry_id=org.pk)
            else:
                accounts = accounts.filter(
                    kind=AccountKind.PRACTICE,
                    betriebsstaette_id=org.betriebsstaette_id if org else -1,
                )
        resources = []
        for account in accounts.order_by("address"):
            entry = selectors.entry_of(account)
            if entry is not None:
                resources.append(endpoint(account, entry))
        return _bundle(request, resources[:count], len(resources))

    return _search(request, "Endpoint", build)


def _read(request, build_from_pk):
    try:
        resource = build_from_pk()
    except (DirectoryEntry.DoesNotExist, KimAccount.DoesNotExist, ValueError):
        return json_error(404, NOT_FOUND_TEXT)
    if resource is None:
        return json_error(404, NOT_FOUND_TEXT)
    return JsonResponse(resource, content_type=FHIR_JSON)


def _pk(raw: str, prefix: str) -> int:
    if not raw.startswith(prefix) or not raw[len(prefix) :].isdigit():
        raise ValueError(raw)
    value = int(raw[len(prefix) :])
    if value >= 2**31:
        raise ValueError(raw)
    return value


@require_GET
@api_view(scope=ApiScope.KIM)
def read_organization(request, rid: str):
    return _read(
        request,
        lambda: organization(
            selectors.published_entries().get(kind=EntryKind.ORGANIZATION, pk=_pk(rid, "org-"))
        ),
    )


@require_GET
@api_view(scope=ApiScope.KIM)
def read_practitioner(request, rid: str):
    return _read(
        request,
        lambda: practitioner(
            selectors.published_entries().get(kind=EntryKind.PRACTITIONER, pk=_pk(rid, "pra-"))
        ),
    )


@require_GET
@api_view(scope=ApiScope.KIM)
def read_practitioner_role(request, rid: str):
    return _read(
        request,
        lambda: practitioner_role(
            selectors.published_entries().get(kind=EntryKind.PRACTITIONER, pk=_pk(rid, "role-"))
        ),
    )


@require_GET
@api_view(scope=ApiScope.KIM)
def read_endpoint(request, rid: str):
    def build():
        account = selectors.live_account(_pk(rid, "kim-"))
        entry = selectors.entry_of(account)
        return endpoint(account, entry) if entry is not None else None

    return _read(request, build)
