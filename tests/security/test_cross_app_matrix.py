"""Cross-app permission matrix (seed 000, issue 2): several practices × users × every URL.

One scoping layer decides every access to practice data: out-of-scope objects are never
listed and never served, whatever URL or id is tried (404, never 403). The URL patterns are
enumerated from the resolver, so a new view with ids or a new staff page fails
`test_every_url_is_classified` until it is added to the matrix below."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kvportal.audit.models import AccessLogEntry, Activity
from tests.conftest import otp_verify

pytestmark = pytest.mark.django_db

MEMBERS = [
    "mvz_leiter",
    "mvz_arzt_a",
    "mvz_arzt_b",
    "mvz_billing",
    "bag_partner",
    "bag_staff",
    "solo",
]
STAFF_ROLES = ["Abrechnung", "Arztregister", "Zulassung"]

# --------------------------------------------------------------------------------------------
# who may see what (the oracle, written from seed 000 independently of the implementation)

#: practice key -> users holding the billing right there (the ÄL by the seed-000 rule)
BILLING = {
    "mvz": {"mvz_leiter", "mvz_billing"},
    "bag": {"bag_partner", "bag_staff"},
    "solo": {"solo"},
}
#: BSNR-wide document right
DOCS_BSNR = {"mvz": {"mvz_leiter"}, "bag": {"bag_partner"}, "solo": {"solo"}}


def visible(world, kind: str) -> dict[str, set[int]]:
    """user key -> pks of objects of `kind` the user may see."""
    seen: dict[str, set[int]] = {u: set() for u in MEMBERS}
    objects = world.objects.get(kind.split("_")[0] if kind.startswith("admission") else kind, {})
    if kind == "submission":
        for key, subs in objects.items():
            for user in BILLING[key]:
                seen[user].update(s.pk for s in subs)
    elif kind == "document":
        lanr_owner = {world.users[u].person.lanr: u for u in ("mvz_arzt_a", "mvz_arzt_b")}
        for key, docs in objects.items():
            for doc in docs:
                for user in DOCS_BSNR[key]:
                    seen[user].add(doc.pk)
                if doc.lanr and doc.lanr in lanr_owner:
                    seen[lanr_owner[doc.lanr]].add(doc.pk)
    elif kind == "access":
        owners = {"bag": "bag_partner", "solo": "solo"}
        for key, apps in objects.items():
            if key in owners:
                seen[owners[key]].update(a.pk for a in apps)
    elif kind.startswith("admission"):
        submitted, mvz_draft = objects["mvz"]
        seen["mvz_leiter"].update({submitted.pk, mvz_draft.pk})
        if kind != "admission_edit":
            seen["mvz_arzt_a"].add(submitted.pk)  # the employee signs: he sees, not edits
        seen["bag_partner"].update(a.pk for a in objects["bag"])
        if kind == "admission_files":  # only the submitted application has PDF copies
            for pks in seen.values():
                pks.intersection_update({submitted.pk})
        if kind == "admission_attachments":  # uploads exist in the submitted and one draft
            with_uploads = {a.pk for a in objects["mvz"] if a.attachments.exists()}
            for pks in seen.values():
                pks.intersection_update(with_uploads)
    elif kind in ("ehba_document", "ehba_report"):
        for obj in world.all(kind):
            target = obj.content_type.model_class().objects.get(pk=obj.object_id)
            kind_of_target = "submission" if obj.content_type.model == "submission" else "admission"
            for user, pks in visible(world, kind_of_target).items():
                if target.pk in pks:
                    seen[user].add(obj.pk)
    elif kind == "ehba_registration":
        for reg in world.all(kind):
            for key in MEMBERS:
                if world.users[key].pk == reg.user_id:
                    seen[key].add(reg.pk)
    else:  # pragma: no cover
        raise KeyError(kind)
    return seen


# --------------------------------------------------------------------------------------------
# the URL matrix


@dataclass(frozen=True)
class ObjectUrl:
    kind: str
    method: str = "GET"  # POST: only foreign objects are tried (own ones would be changed)
    api: bool = False
    extra: tuple = ()  # further kwargs: ("kind", "antrag") ...


def _admission_extra(world, app, name):
    if name == "file":
        return {"kind": "antrag"}
    if name == "attachment":
        first = app.attachments.first()
        return {"attachment_pk": first.pk if first else 999999}
    return {}


#: URL name -> how its ids are filled. Every member URL with an id must be listed here.
OBJECT_URLS = {
    "billing:detail": ObjectUrl("submission"),
    "billing:status": ObjectUrl("submission"),
    "billing:protocol_pdf": ObjectUrl("submission"),
    "billing:receipt_pdf": ObjectUrl("submission"),
    "oneclick:ese_create": ObjectUrl("submission", method="POST"),
    "billing_api:submission": ObjectUrl("submission", api=True),
    "billing_api:protocol": ObjectUrl("submission", api=True),
    "billing_api:protocol_pdf": ObjectUrl("submission", api=True),
    "billing_api:receipt_pdf": ObjectUrl("submission", api=True),
    "documents:detail": ObjectUrl("document"),
    "documents:download": ObjectUrl("document"),
    "documents_api:detail": ObjectUrl("document", api=True),
    "documents_api:download": ObjectUrl("document", api=True),
    "access:edit": ObjectUrl("access"),
    "access:review": ObjectUrl("access"),
    "access:status": ObjectUrl("access"),
    "access:pdf": ObjectUrl("access"),
    "access:status_action": ObjectUrl("access", method="POST"),
    "admission:detail": ObjectUrl("admission"),
    "admission:edit": ObjectUrl("admission_edit"),
    "admission:review": ObjectUrl("admission_edit"),
    "admission:file": ObjectUrl("admission_files"),
    "admission:attachment": ObjectUrl("admission_attachments"),
    "admission:confirm": ObjectUrl("admission", method="POST"),
    "admission:withdraw": ObjectUrl("admission_edit", method="POST"),
    "admission:reopen": ObjectUrl("admission_edit", method="POST"),
    "admission:delete": ObjectUrl("admission_edit", method="POST"),
    "admission:answer": ObjectUrl("admission_edit", method="POST"),
    "ehba:document_download": ObjectUrl("ehba_document", extra=(("version", "original"),)),
    "ehba:document_upload": ObjectUrl("ehba_document", method="POST"),
    "ehba:report": ObjectUrl("ehba_report"),
    "ehba:registration_remove": ObjectUrl("ehba_registration", method="POST"),
    "ehba:registration_second_factor": ObjectUrl("ehba_registration", method="POST"),
}

#: Member/public URLs with path arguments that are not object ids of practice data,
#: with the reason (checked elsewhere or by their own app's tests).
NON_OBJECT_URLS = {
    "accounts:staff_right_revoke": "tests/foundation/test_permission_matrix.py",
    "accounts:api_token_revoke": "tests/foundation/test_permission_matrix.py",
    "billing:declare": "BSNR + quarter: test_declaration_for_foreign_bsnr_is_404",
    "oneclick:ese_xml": "eSE id: tests/ese/test_ese_portal.py::test_foreign_ese_xml_is_404",
    "billing:declaration_pdf": "BSNR + quarter: "
    "tests/billing/test_declaration.py::test_foreign_practice_page_and_receipt_are_404",
    "billing:test_run_detail": "tests/billing/test_test_runs.py::test_foreign_test_run_is_404",
    "billing_api:test_run": "tests/billing/test_test_runs.py::test_api_test_run (404 for others)",
    "access:resume": "secret draft link (token): test_secret_links_are_not_guessable",
    "access:confirm": "secret confirmation link (token): test_secret_links_are_not_guessable",
    "admission:confirm_code": "secret signatory link (token): test_secret_links_are_not_guessable",
    "admission:confirm_code_pdf": "secret signatory link (token): "
    "test_secret_links_are_not_guessable",
    "ehba:sign": "app label + id: test_signing_pages_follow_the_owning_app",
    "documents:quarter_zip": "quarter, not an object: tests/documents/test_guided_list.py"
    "::test_zip_of_a_quarter_holds_what_the_user_may_see",
    "selfservice:session_end": "own sessions only: tests/selfservice/test_selfservice.py"
    "::test_nobody_ends_a_session_of_someone_else",
    "selfservice:email_confirm": "secret confirmation link (token): tests/guided/"
    "test_email_confirmation.py::test_unknown_or_used_link_is_refused",
    "selfservice:praxispersonal_reset": "tests/selfservice/test_selfservice.py"
    "::test_holder_cannot_reset_someone_elses_staff",
    **{
        f"kim:{n}": "tests/kim/test_portal_scope.py::test_every_kim_object_url_is_404_out_of_scope"
        for n in (
            "smcb_order",
            "smcb_activate",
            "smcb_unblock",
            "smcb_card_file",
            "account_request",
            "account",
            "mailbox",
            "subject_search",
            "compose",
            "certificates",
            "send",
            "message",
            "message_raw",
            "message_delete",
        )
    },
    **{
        f"arztbrief:{n}": "personal letters / own mailboxes: "
        "tests/arztbrief/test_views.py::test_foreign_letters_and_messages_are_404"
        for n in ("detail", "pdf", "send_data", "send", "received", "confirm")
    },
    "arztbrief_api:nachweise": "own practice mailboxes only: "
    "tests/arztbrief/test_proof_api.py::test_refusals_scope_mailbox_registration_fields",
    **{
        f"kim_api:{n}": "KV as card issuer only (scope kim_admin, Arztregister): "
        "tests/kim/test_portal_directory_admin.py::test_only_arztregister_staff_may_administer"
        for n in (
            "directory_entry",
            "directory_entry_base",
            "directory_active",
            "directory_versions",
        )
    },
    **{
        f"kim_api:{n}_read": "published directory only: tests/kim/test_portal_directory.py"
        for n in ("organization", "practitioner", "role", "endpoint")
    },
}

#: staff pages: URL name -> the one staff role that may use it
STAFF_URLS = {
    "selfservice:staff_requests": "Arztregister",
    "selfservice:staff_request_done": "Arztregister",
    "billing:staff_list": "Abrechnung",
    "billing:staff_detail": "Abrechnung",
    "billing:staff_recheck": "Abrechnung",
    "billing:staff_download": "Abrechnung",
    "billing:staff_protocol_pdf": "Abrechnung",
    "billing:staff_receipt_pdf": "Abrechnung",
    "billing:deadlines": "Abrechnung",
    "billing:deadline_edit": "Abrechnung",
    "billing:missing": "Abrechnung",
    "documents:staff_upload": "Abrechnung",
    "documents:staff_import": "Abrechnung",
    "access:staff_queue": "Arztregister",
    "access:staff_detail": "Arztregister",
    "access:staff_decide": "Arztregister",
    "access:staff_refuse": "Arztregister",
    "members:practice_list": "Arztregister",
    "members:practice_create": "Arztregister",
    "members:practice_detail": "Arztregister",
    "members:practice_edit": "Arztregister",
    "members:person_list": "Arztregister",
    "members:person_create": "Arztregister",
    "members:person_detail": "Arztregister",
    "members:person_edit": "Arztregister",
    "members:taetigkeit_create": "Arztregister",
    "members:taetigkeit_edit": "Arztregister",
    "members:taetigkeit_end": "Arztregister",
    "members:account_deactivate": "Arztregister",
    "access:staff_pdf": "Arztregister",
    "access:staff_letters": "Arztregister",
    "access:staff_letters_batch": "Arztregister",
    "access:staff_reissue": "Arztregister",
    "access:staff_letter_pdf": "Arztregister",
    "admission:staff_inbox": "Zulassung",
    "admission:staff_detail": "Zulassung",
    "admission:staff_action": "Zulassung",
    "admission:staff_file": "Zulassung",
    "admission:staff_attachment": "Zulassung",
    "admission:sessions": "Zulassung",
    "admission:session_detail": "Zulassung",
    "admission:agenda": "Zulassung",
    "admission:session_delete": "Zulassung",
    "ehba:staff_registrations": "Arztregister",
    "arztbrief:staff": "Abrechnung",
    "kim:staff_smcb": "Arztregister",
    "kim:staff_smcb_decide": "Arztregister",
    "kim:staff_accounts": "Arztregister",
    "kim:staff_account_decide": "Arztregister",
}

#: member pages without ids (lists, forms, start page)
MEMBER_PAGES = [
    "core:home",
    "accounts:access_log",
    "billing:overview",
    "billing:submit",
    "documents:list",
    "access:my_applications",
    "access:apply",
    "admission:list",
    "ehba:register",
    "ehba:checklist",
]


def all_patterns():
    """(name, route, converters) of every URL of the project, the back office excluded."""

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                if str(p.pattern).startswith("backoffice/"):
                    continue
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace else (p.name or "")
                converters = getattr(p.pattern, "converters", {})
                yield name, prefix + str(p.pattern), converters

    return list(walk(get_resolver().url_patterns, "", ""))


def _object_url(world, name: str, spec: ObjectUrl, obj) -> str:
    if spec.kind == "access":
        return reverse(name, args=[obj.reference])
    kwargs = {"pk": obj.pk, **dict(spec.extra)}
    if name.startswith("admission:"):
        kwargs.update(_admission_extra(world, obj, name.split(":")[1]))
    return reverse(name, kwargs=kwargs)


def _client(user=None, *, staff=False, csrf=False) -> Client:
    client = Client(enforce_csrf_checks=csrf, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
        if staff:
            otp_verify(client, user)
    return client


def _request(client, method, url, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(url, **headers) if method == "POST" else client.get(url, **headers)


# --------------------------------------------------------------------------------------------
# tests


def test_every_url_is_classified():
    """A new URL with path arguments, or a new staff page, must be added to this matrix."""
    known = set(OBJECT_URLS) | set(NON_OBJECT_URLS) | set(STAFF_URLS)
    problems = []
    for name, route, converters in all_patterns():
        is_staff_route = "/kv/" in f"/{route}"
        if is_staff_route and name not in STAFF_URLS:
            problems.append(f"staff page {name} ({route}) not in STAFF_URLS")
        has_args = bool(converters) or "(?P<" in route
        if has_args and name not in known:
            problems.append(f"{name} ({route}) has path arguments but is not in the matrix")
    names = {n for n, _r, _c in all_patterns()}
    problems += [f"{n} is in the matrix but no longer exists" for n in known - names]
    problems += [f"{n} is in MEMBER_PAGES but does not exist" for n in set(MEMBER_PAGES) - names]
    assert not problems, "\n".join(problems)


def test_object_urls_serve_only_objects_in_scope(world):
    """Every user × every object URL × every object: in scope → served, else 404."""
    failures = []
    for user_key in MEMBERS:
        client = _client(world.users[user_key])
        token = world.tokens[user_key]
        for name, spec in OBJECT_URLS.items():
            allowed = visible(world, spec.kind)[user_key]
            for obj in world.all(spec.kind):
                mine = obj.pk in allowed
                if mine and spec.method == "POST":
                    continue  # would change the user's own data
                url = _object_url(world, name, spec, obj)
                response = _request(
                    _client() if spec.api else client, spec.method, url, token if spec.api else None
                )
                status = response.status_code
                if status >= 500 or (mine and status == 404) or (not mine and status != 404):
                    failures.append(f"{user_key} {spec.method} {url} ({name}): {status}")
    assert not failures, "\n".join(failures)


def test_lists_and_counts_show_only_objects_in_scope(world):
    """Titles, references and BSNRs of foreign practices never appear on member pages."""
    markers = {
        "mvz": ["MVZ Alpha", world.practices["mvz"].bsnr],
        "bag": ["BAG Beta", world.practices["bag"].bsnr],
        "solo": ["Praxis Gamma", world.practices["solo"].bsnr],
    }
    allowed_practices = {
        "mvz_leiter": {"mvz"},
        "mvz_arzt_a": {"mvz"},
        "mvz_arzt_b": {"mvz"},
        "mvz_billing": {"mvz"},
        "bag_partner": {"bag"},
        "bag_staff": {"bag"},
        "solo": {"solo"},
    }
    documents = {d.pk: d.title for d in world.all("document")}
    doc_visible = visible(world, "document")
    references = {a.pk: a.reference for a in world.all("admission") if a.reference}
    adm_visible = visible(world, "admission")
    failures = []
    for user_key in MEMBERS:
        client = _client(world.users[user_key])
        for page in MEMBER_PAGES:
            response = client.get(reverse(page))
            if response.status_code >= 500:
                failures.append(f"{user_key} {page}: {response.status_code}")
                continue
            html = response.content.decode()
            for key, texts in markers.items():
                if key in allowed_practices[user_key]:
                    continue
                failures += [f"{user_key} {page}: shows {t!r}" for t in texts if t in html]
            for pk, title in documents.items():
                if pk not in doc_visible[user_key] and title in html:
                    failures.append(f"{user_key} {page}: shows document {title!r}")
            for pk, reference in references.items():
                if pk not in adm_visible[user_key] and reference in html:
                    failures.append(f"{user_key} {page}: shows admission {reference}")
        # own documents are listed
        html = client.get(reverse("documents:list")).content.decode()
        for pk in doc_visible[user_key]:
            if documents[pk] not in html:
                failures.append(f"{user_key}: own document {documents[pk]!r} not listed")
    assert not failures, "\n".join(failures)


def test_api_lists_contain_exactly_the_objects_in_scope(world):
    client = _client()
    subs_visible = visible(world, "submission")
    docs_visible = visible(world, "document")
    for user_key in MEMBERS:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[user_key]}"}
        subs = client.get("/api/v1/billing/submissions/", **auth).json()["einreichungen"]
        assert {s["id"] for s in subs} == subs_visible[user_key], user_key
        docs = client.get("/api/v1/documents/", **auth).json()
        assert {d["id"] for d in docs["dokumente"]} == docs_visible[user_key], user_key
        assert docs["anzahl"] == len(docs_visible[user_key]), user_key
        # filtering for a foreign BSNR gives nothing, not an error
        for key, practice in world.practices.items():
            listed = client.get("/api/v1/documents/", {"bsnr": practice.bsnr}, **auth).json()[
                "dokumente"
            ]
            assert all(d["bsnr"] == practice.bsnr for d in listed)
            assert {d["id"] for d in listed} <= docs_visible[user_key]


def test_api_tokens_act_only_within_rights_and_scopes(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kvportal.accounts import services as accounts
    from kvportal.billing.models import Submission
    from kvportal.kvdt import generate
    from tests.security.conftest import Q1

    client = _client()
    # a token limited to "documents" cannot use the billing API and vice versa
    _t, docs_only = accounts.create_api_token(
        actor=world.users["solo"], name="nur Dokumente", scopes=["documents"]
    )
    _t, billing_only = accounts.create_api_token(
        actor=world.users["solo"], name="nur Abrechnung", scopes=["billing"]
    )
    assert (
        client.get(
            "/api/v1/billing/submissions/", HTTP_AUTHORIZATION=f"Bearer {docs_only}"
        ).status_code
        == 403
    )
    assert (
        client.get("/api/v1/documents/", HTTP_AUTHORIZATION=f"Bearer {billing_only}").status_code
        == 403
    )
    # a revoked token is refused
    token = accounts.create_api_token(actor=world.users["solo"], name="alt", scopes=["billing"])
    accounts.revoke_api_token(actor=world.users["solo"], token=token[0])
    assert (
        client.get(
            "/api/v1/billing/submissions/", HTTP_AUTHORIZATION=f"Bearer {token[1]}"
        ).status_code
        == 401
    )
    # a session does not authenticate the API
    session = _client(world.users["solo"])
    assert session.get("/api/v1/billing/submissions/").status_code == 401
    # uploading for a BSNR without the billing right is refused and creates nothing
    before = Submission.objects.count()
    for user_key, foreign in (("bag_staff", "solo"), ("mvz_arzt_a", "mvz"), ("solo", "bag")):
        bsnr = world.practices[foreign].bsnr
        name = f"Z01{bsnr}_05.04.2026_11.00.con"
        response = client.post(
            "/api/v1/billing/submissions/",
            {
                "bsnr": bsnr,
                "quartal": Q1.slug,
                "datei": SimpleUploadedFile(name, generate(2, seed=9, quarter=Q1, bsnr=bsnr)),
            },
            HTTP_AUTHORIZATION=f"Bearer {world.tokens[user_key]}",
        )
        assert response.status_code == 403, (user_key, response.content)
    # an unknown BSNR gets the same answer as a foreign one (no probing)
    response = client.post(
        "/api/v1/billing/submissions/",
        {
            "bsnr": "999999900",
            "quartal": Q1.slug,
            "datei": SimpleUploadedFile("Z01999999900_05.04.2026_11.00.con", b"x"),
        },
        HTTP_AUTHORIZATION=f"Bearer {world.tokens['solo']}",
    )
    assert response.status_code == 403
    assert Submission.objects.count() == before


def _staff_kwargs(world, name: str):
    sub = world.objects["submission"]["mvz"][0]
    access_app = world.objects["access"]["bag"][0]
    admission_app = world.objects["admission"]["mvz"][0]
    session = (
        admission_app.session
        or __import__(
            "kvportal.admission.models", fromlist=["CommitteeSession"]
        ).CommitteeSession.objects.first()
    )
    attachment = admission_app.attachments.first()
    taetigkeit = (
        __import__("kvportal.members.models", fromlist=["Taetigkeit"])
        .Taetigkeit.objects.filter(betriebsstaette=world.practices["mvz"])
        .first()
    )
    table = {
        "billing:staff_detail": {"pk": sub.pk},
        "billing:staff_recheck": {"pk": sub.pk},
        "billing:staff_download": {"pk": sub.pk},
        "billing:staff_protocol_pdf": {"pk": sub.pk},
        "billing:staff_receipt_pdf": {"pk": sub.pk},
        "billing:deadline_edit": {"quarter": "2026-1"},
        "access:staff_detail": {"pk": access_app.pk},
        "access:staff_decide": {"pk": access_app.pk},
        "access:staff_refuse": {"pk": access_app.pk},
        "members:practice_detail": {"pk": world.practices["mvz"].pk},
        "members:practice_edit": {"pk": world.practices["mvz"].pk},
        "members:person_detail": {"pk": taetigkeit.person_id},
        "members:person_edit": {"pk": taetigkeit.person_id},
        "members:taetigkeit_create": {"person_pk": taetigkeit.person_id},
        "members:taetigkeit_edit": {"pk": taetigkeit.pk},
        "members:taetigkeit_end": {"pk": taetigkeit.pk},
        "members:account_deactivate": {"pk": world.users["mvz_arzt_a"].pk},
        "access:staff_pdf": {"pk": access_app.pk},
        "access:staff_letter_pdf": {"pk": 1},
        "admission:staff_detail": {"pk": admission_app.pk},
        "admission:staff_action": {"pk": admission_app.pk, "action": "gebuehr"},
        "admission:staff_file": {"pk": admission_app.pk, "kind": "antrag"},
        "admission:staff_attachment": {"pk": admission_app.pk, "attachment_pk": attachment.pk},
        "admission:session_detail": {"pk": session.pk},
        "admission:agenda": {"pk": session.pk},
        "admission:session_delete": {"pk": session.pk},
        "kim:staff_smcb_decide": {"pk": 1},
        "selfservice:staff_request_done": {"pk": 1},
        "kim:staff_account_decide": {"pk": 1},
    }
    return table.get(name, {})


def test_staff_pages_only_for_the_right_staff_role(world):
    failures = []
    staff_clients = {role: _client(user, staff=True) for role, user in world.staff.items()}
    member_clients = {key: _client(world.users[key]) for key in ("mvz_leiter", "bag_staff", "solo")}
    for name, role in STAFF_URLS.items():
        url = reverse(name, kwargs=_staff_kwargs(world, name))
        for key, client in member_clients.items():
            for method in ("GET", "POST"):
                status = _request(client, method, url).status_code
                if status != 404:
                    failures.append(f"member {key} {method} {url}: {status}")
        for other, client in staff_clients.items():
            status = client.get(url).status_code
            if other == role:
                if status == 404 or status >= 500:
                    failures.append(f"staff {other} GET {url}: {status} (own role)")
            elif status != 404:
                failures.append(f"staff {other} GET {url}: {status} (wrong role)")
            if other != role and client.post(url).status_code != 404:
                failures.append(f"staff {other} POST {url}: not 404 (wrong role)")
    assert not failures, "\n".join(failures)


#: eHBA documents/reports are shared member/staff views: staff of the department that owns
#: the application see them (staff querysets in <app>/signing.py).
EHBA_STAFF = {
    "submission": "Abrechnung",
    "application": "Zulassung",
    "accessapplication": "Arztregister",
}


def test_kv_staff_have_no_member_scope(world):
    """Staff work through staff pages only: member object URLs are 404 for them (eHBA
    signing documents: only for the department owning the application)."""
    failures = []
    for role, user in world.staff.items():
        client = _client(user, staff=True)
        for name, spec in OBJECT_URLS.items():
            if spec.api or spec.method == "POST":
                continue
            for obj in world.all(spec.kind):
                url = _object_url(world, name, spec, obj)
                status = client.get(url).status_code
                allowed = (
                    spec.kind.startswith("ehba_")
                    and spec.kind != "ehba_registration"
                    and EHBA_STAFF[obj.content_type.model] == role
                )
                if (allowed and status != 200) or (not allowed and status != 404):
                    failures.append(f"staff {role} GET {url}: {status}")
    assert not failures, "\n".join(failures)


def test_signing_pages_follow_the_owning_app(world):
    """/ehba/signieren/<label>/<pk>/ is visible exactly to who sees the application."""
    labels = {"submission": "billing.submission", "admission": "admission.application"}
    failures = []
    for kind, label in labels.items():
        allowed = visible(world, kind)
        for user_key in MEMBERS:
            client = _client(world.users[user_key])
            for obj in world.all(kind):
                status = client.get(reverse("ehba:sign", args=[label, obj.pk])).status_code
                mine = obj.pk in allowed[user_key]
                if status >= 500 or (mine and status == 404) or (not mine and status != 404):
                    failures.append(f"{user_key} sign {label} {obj.pk}: {status}")
    for app in world.all("access"):
        for user_key in MEMBERS:
            client = _client(world.users[user_key])
            mine = app.pk in visible(world, "access")[user_key]
            status = client.get(
                reverse("ehba:sign", args=["access.accessapplication", app.pk])
            ).status_code
            if status >= 500 or (not mine and status != 404):
                failures.append(f"{user_key} sign access {app.pk}: {status}")
    assert not failures, "\n".join(failures)


def test_declaration_for_foreign_bsnr_is_404(world):
    from kvportal.billing.models import Declaration

    for user_key, foreign in (("bag_partner", "mvz"), ("solo", "bag"), ("mvz_leiter", "solo")):
        client = _client(world.users[user_key])
        url = reverse("billing:declare", args=[world.practices[foreign].bsnr, "2026-1"])
        assert client.post(url, {"confirm": "1"}).status_code == 404
    assert not Declaration.objects.exists()


def test_secret_links_are_not_guessable(world):
    client = _client()
    for name in ("access:resume", "access:confirm", "admission:confirm_code"):
        for guess in ("1", "a" * 32, world.objects["access"]["bag"][0].reference):
            assert client.get(reverse(name, args=[guess])).status_code == 404, (name, guess)


def test_views_and_downloads_are_in_the_access_log(world):
    """Every view/download of documents and every retrieval of PDFs lands in the log."""
    cases = [
        ("mvz_leiter", "documents:detail", "document", False, Activity.VIEW),
        ("mvz_leiter", "documents:download", "document", False, Activity.DOWNLOAD),
        ("mvz_arzt_a", "documents_api:detail", "document", True, Activity.VIEW),
        ("mvz_arzt_a", "documents_api:download", "document", True, Activity.DOWNLOAD),
        ("mvz_billing", "billing:protocol_pdf", "submission", False, Activity.DOWNLOAD),
        ("mvz_billing", "billing:receipt_pdf", "submission", False, Activity.DOWNLOAD),
        ("bag_staff", "billing_api:protocol_pdf", "submission", True, Activity.DOWNLOAD),
        ("bag_staff", "billing_api:receipt_pdf", "submission", True, Activity.DOWNLOAD),
        ("mvz_leiter", "admission:file", "admission", False, Activity.DOWNLOAD),
        ("mvz_leiter", "admission:attachment", "admission", False, Activity.DOWNLOAD),
        ("mvz_leiter", "ehba:document_download", "ehba_document", False, Activity.DOWNLOAD),
        ("bag_partner", "access:pdf", "access", False, Activity.DOWNLOAD),
    ]
    failures = []
    for user_key, name, kind, api, activity in cases:
        user = world.users[user_key]
        obj = next(o for o in world.all(kind) if o.pk in visible(world, kind)[user_key])
        spec = OBJECT_URLS[name]
        url = _object_url(world, name, spec, obj)
        before = AccessLogEntry.objects.filter(user=user, activity=activity).count()
        response = _request(
            _client() if api else _client(user), "GET", url, world.tokens[user_key] if api else None
        )
        if response.status_code != 200:
            failures.append(f"{name}: {response.status_code}")
            continue
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        after = AccessLogEntry.objects.filter(user=user, activity=activity).count()
        if after != before + 1:
            failures.append(f"{name} by {user_key}: {after - before} {activity} entries")
    # every submission is in the log (billing files and admission applications)
    submitted = world.objects["admission"]["mvz"][0]
    assert AccessLogEntry.objects.filter(
        activity=Activity.SUBMIT, object_id=str(submitted.pk), object_type="admission.application"
    ).exists()
    for sub in world.all("submission"):
        assert AccessLogEntry.objects.filter(
            activity=Activity.SUBMIT, object_id=str(sub.pk), object_type="billing.submission"
        ).exists()
    assert not failures, "\n".join(failures)


def test_staff_downloads_are_in_the_access_log(world):
    cases = [
        ("Abrechnung", "billing:staff_download"),
        ("Abrechnung", "billing:staff_protocol_pdf"),
        ("Abrechnung", "billing:staff_receipt_pdf"),
        ("Arztregister", "access:staff_pdf"),
        ("Zulassung", "admission:staff_file"),
        ("Zulassung", "admission:staff_attachment"),
    ]
    for role, name in cases:
        staff = world.staff[role]
        before = AccessLogEntry.objects.filter(user=staff, activity=Activity.DOWNLOAD).count()
        response = _client(staff, staff=True).get(reverse(name, kwargs=_staff_kwargs(world, name)))
        assert response.status_code == 200, name
        after = AccessLogEntry.objects.filter(user=staff, activity=Activity.DOWNLOAD).count()
        assert after == before + 1, name


def _patient_data(content: bytes) -> set[str]:
    """Patient names (FK 3101/3102) and insurance numbers (FK 3119) of a KVDT file."""
    values = set()
    for line in content.decode("latin-1").split("\r\n"):
        if len(line) > 7 and line[3:7] in ("3101", "3102", "3119"):
            value = line[7:].strip()
            if len(value) >= 4:
                values.add(value)
    return values


def test_no_patient_data_in_the_access_log_or_logs(
    world, caplog, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from kvportal.billing import services as billing
    from kvportal.kvdt import generate
    from tests.security.conftest import ON_TIME, Q1

    caplog.set_level("DEBUG")
    # a faulty file too: the check messages point at patient fields
    practice = world.practices["solo"]
    faulty = generate(3, seed=7, quarter=Q1, bsnr=practice.bsnr, inject=["SYN-ZEICHEN", "054"])
    name = f"Z01{practice.bsnr}_05.04.2026_10.45.con"
    with django_capture_on_commit_callbacks(execute=True):
        submission = billing.receive_submission(
            actor=world.users["solo"],
            betriebsstaette=practice,
            quarter=Q1,
            upload=SimpleUploadedFile(name, faulty),
            filename=name,
            now=ON_TIME,
        )
    submission.refresh_from_db()
    assert submission.state == "rejected"
    secrets = _patient_data(faulty)
    for sub in world.all("submission"):
        secrets |= _patient_data(sub.kvdt_content)
    assert len(secrets) > 10, "the generated files carry patient names and insurance numbers"
    # doctors' random Faker names may coincide with a synthetic patient name: not a leak
    from kvportal.members.models import Person

    # (also inside compound names: a patient "Karl" is no leak next to a doctor "Karl-Heinz")
    doctors = " ".join(
        f"{f} {la}" for f, la in Person.objects.values_list("first_name", "last_name")
    )
    secrets = {s for s in secrets if s not in doctors}
    # look at the submissions' pages and API as a user would
    client = _client(world.users["solo"])
    for sub in [*world.objects["submission"]["solo"], submission]:
        client.get(reverse("billing:detail", args=[sub.pk]))
        client.get(reverse("billing:protocol_pdf", args=[sub.pk]))
        _client().get(
            f"/api/v1/billing/submissions/{sub.pk}/protocol/",
            HTTP_AUTHORIZATION=f"Bearer {world.tokens['solo']}",
        )
    rows = AccessLogEntry.objects.values_list("object_repr", "detail", "path", "username")
    dump = "\n".join(str(r) for r in rows) + "\n" + caplog.text
    leaked = sorted(s for s in secrets if s in dump)
    assert not leaked, leaked


def csrf_refused(request, reason=""):
    from django.http import HttpResponseForbidden

    return HttpResponseForbidden(b"csrf-refused")


def test_csrf_is_required_on_every_form(world, settings):
    """A POST without CSRF token is refused on every page that is not a token API."""
    settings.CSRF_FAILURE_VIEW = "tests.security.test_cross_app_matrix.csrf_refused"
    member = world.users["solo"]
    client = _client(member, csrf=True)
    failures = []
    for name, route, converters in all_patterns():
        if route.startswith("api/") or not name:
            continue
        kwargs = {}
        for arg, conv in converters.items():
            kwargs[arg] = 1 if "Int" in type(conv).__name__ else "x"
        url = reverse(name, kwargs=kwargs)
        response = client.post(url, {"x": "1"})
        if response.content != b"csrf-refused":
            failures.append(f"POST {url} ({name}) without CSRF token: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_templates_have_no_inline_script_or_style():
    """CSP (script-src/style-src 'self') would block inline code; PDF templates are exempt."""
    from pathlib import Path

    import kvportal

    root = Path(kvportal.__file__).parent
    bad = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
    )
    problems = []
    for path in root.rglob("templates/**/*.html"):
        if "/pdf/" in str(path) or path.name.startswith("pdf") or "_pdf" in path.name:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if bad.search(line):
                problems.append(f"{path.relative_to(root)}:{number}: {line.strip()[:100]}")
    assert not problems, "\n".join(problems)


def test_pages_send_a_strict_csp(world):
    client = _client(world.users["solo"])
    for page in MEMBER_PAGES:
        header = client.get(reverse(page)).headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in header and "unsafe-inline" not in header, page
        assert "frame-ancestors 'none'" in header, page


def _bad_inputs(world) -> dict:
    submitted = world.objects["admission"]["mvz"][0]
    ref = world.objects["access"]["bag"][0].reference
    row = {"variant": "bag", "p-TOTAL_FORMS": "0", "p-INITIAL_FORMS": "0", "action": "add_row"}
    return {
        "access_rows_junk": ("bag_partner", "POST", reverse("access:edit", args=[ref]),
                             {**row, "extra": "viele"}),
        "access_rows_huge": ("bag_partner", "POST", reverse("access:edit", args=[ref]),
                             {**row, "extra": "100000000"}),
        "access_confirmation_id": ("bag_partner", "POST",
                                   reverse("access:status_action", args=[ref]),
                                   {"action": "resend", "confirmation": "abc"}),
        "billing_page": ("solo", "GET", reverse("billing:overview") + "?seite=abc", {}),
        "documents_filters": ("solo", "GET",
                              reverse("documents:list") + "?seite=-1&quartal=xx&bsnr=%00", {}),
        "billing_declare_quarter": (
            "solo", "POST", reverse("billing:declare", args=[world.practices["solo"].bsnr, "xx"]),
            {"confirm": "1"}),
        "admission_signatory_id": ("mvz_leiter", "POST",
                                   reverse("admission:confirm", args=[submitted.pk]),
                                   {"signatory": "abc", "consent": "1"}),
        "ehba_sign_pk": ("mvz_leiter", "GET",
                         reverse("ehba:sign", args=["admission.application", "abc"]), {}),
        "ehba_sign_pk_sql": ("mvz_leiter", "GET",
                             reverse("ehba:sign", args=["billing.submission", "1 OR 1=1"]), {}),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    [
        "access_rows_junk",
        "access_rows_huge",
        "access_confirmation_id",
        "billing_page",
        "documents_filters",
        "billing_declare_quarter",
        "admission_signatory_id",
        "ehba_sign_pk",
        "ehba_sign_pk_sql",
    ],
)
def test_bad_input_never_gives_a_server_error(world, case):
    """Malformed ids and parameters: a German 4xx page or a message, never a 500/traceback."""
    user_key, method, url, data = _bad_inputs(world)[case]
    client = _client(world.users[user_key])
    response = client.post(url, data) if method == "POST" else client.get(url)
    assert response.status_code < 500
    assert "Traceback" not in response.content.decode(errors="replace")


def test_zulassung_staff_cannot_open_signing_pages_of_drafts(world):
    draft = world.objects["admission"]["mvz"][1]
    client = _client(world.staff["Zulassung"], staff=True)
    url = reverse("ehba:sign", args=["admission.application", draft.pk])
    assert client.get(url).status_code == 404


def test_zulassung_staff_cannot_download_attachments_of_drafts(world):
    draft = world.objects["admission"]["mvz"][1]
    attachment = draft.attachments.get()
    client = _client(world.staff["Zulassung"], staff=True)
    # the draft itself is hidden from the office ...
    assert client.get(reverse("admission:staff_detail", args=[draft.pk])).status_code == 404
    # ... and so must be its uploaded employment contract
    url = reverse("admission:staff_attachment", args=[draft.pk, attachment.pk])
    assert client.get(url).status_code == 404


def test_secret_link_tokens_are_not_written_to_the_access_log(world):
    from kvportal.admission import services as admission

    submitted = world.objects["admission"]["mvz"][0]
    # only a hash of the link token is stored (finding 6): issue a fresh link for a raw token
    signatory = submitted.signatories.filter(confirmations__isnull=True).first()
    assert signatory is not None
    token = admission.issue_link(signatory=signatory)
    response = _client().get(reverse("admission:confirm_code_pdf", args=[token]))
    assert response.status_code == 200
    paths = list(AccessLogEntry.objects.values_list("path", flat=True))
    assert paths and not any(token in p for p in paths)


def test_staff_api_tokens_only_for_the_staff_scope(world):
    """KV staff get no member scope through the API either; the import needs the role."""
    from django.core.exceptions import PermissionDenied, ValidationError

    from kvportal.accounts import services as accounts

    with pytest.raises(ValidationError):  # a practice cannot publish documents
        accounts.create_api_token(actor=world.users["solo"], name="x", scopes=["documents_import"])
    with pytest.raises(PermissionDenied):  # Zulassung has no API at all
        accounts.create_api_token(
            actor=world.staff["Zulassung"], name="x", scopes=["documents_import"]
        )
    with pytest.raises(ValidationError):  # staff cannot read practice data via the API
        accounts.create_api_token(
            actor=world.staff["Abrechnung"], name="x", scopes=["documents", "billing"]
        )
    staff = world.staff["Abrechnung"]
    _t, raw = accounts.create_api_token(actor=staff, name="Import", scopes=["documents_import"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = _client()
    assert client.get("/api/v1/documents/", **auth).status_code == 403
    assert client.get("/api/v1/billing/submissions/", **auth).status_code == 403
    for doc in world.all("document"):
        assert client.get(f"/api/v1/documents/{doc.pk}/download", **auth).status_code == 403
    # the token stops working for the import when the role is taken away
    staff.groups.clear()
    response = client.post("/api/v1/documents/import", **auth)
    assert response.status_code == 403


def test_anonymous_gets_nothing(world):
    """Without login (or token) every object URL redirects to the login or answers 404/401."""
    client = _client()
    failures = []
    for name, spec in OBJECT_URLS.items():
        for obj in world.all(spec.kind):
            url = _object_url(world, name, spec, obj)
            response = _request(client, spec.method, url)
            status = response.status_code
            to_login = status == 302 and response["Location"].startswith("/anmelden/")
            if not (to_login or status in (401, 404) or (status == 403 and spec.method == "POST")):
                failures.append(f"anonymous {spec.method} {url}: {status}")
    for page in MEMBER_PAGES:
        response = client.get(reverse(page))
        if page != "access:apply" and not (
            response.status_code == 302 and response["Location"].startswith("/anmelden/")
        ):
            failures.append(f"anonymous GET {page}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_withdrawn_rights_end_access_at_once(world):
    """Scope follows the rights and the registry on every request (no cached grants)."""
    import datetime as dt

    from kvportal.accounts import services as accounts
    from kvportal.accounts.models import PortalRight
    from kvportal.members.constants import Role
    from kvportal.members.models import Taetigkeit

    bag_sub = world.objects["submission"]["bag"][0]
    staff_user = world.users["bag_staff"]
    web = _client(staff_user)
    api = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens['bag_staff']}"}
    assert web.get(reverse("billing:detail", args=[bag_sub.pk])).status_code == 200
    accounts.revoke_right(
        actor=world.users["bag_partner"], portal_right=PortalRight.objects.get(user=staff_user)
    )
    assert web.get(reverse("billing:detail", args=[bag_sub.pk])).status_code == 404
    assert _client().get(f"/api/v1/billing/submissions/{bag_sub.pk}/", **api).status_code == 404
    # the Ärztlicher Leiter who steps down loses the billing right of the MVZ the next day
    mvz_sub = world.objects["submission"]["mvz"][0]
    leiter = world.users["mvz_leiter"]
    client = _client(leiter)
    assert client.get(reverse("billing:detail", args=[mvz_sub.pk])).status_code == 200
    Taetigkeit.objects.filter(person=leiter.person, role=Role.AERZTLICHER_LEITER).update(
        valid_to=dt.date(2026, 11, 22)
    )
    assert client.get(reverse("billing:detail", args=[mvz_sub.pk])).status_code == 404
    # ... but keeps his document right
    doc = world.objects["document"]["mvz"][0]
    assert client.get(reverse("documents:detail", args=[doc.pk])).status_code == 200


def test_second_factor_page_does_not_redirect_to_foreign_hosts(db):
    """No open redirect after the TOTP code (a phishing link could send staff elsewhere)."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import kv_staff

    staff = kv_staff("Abrechnung", username="kv.redirect")
    device = TOTPDevice.objects.create(user=staff, name="Handy", confirmed=True)
    client = _client(staff)
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()
    response = client.post(
        reverse("accounts:otp_verify") + "?next=https://angreifer.example/anmelden/",
        {"token": f"{code:06d}"},
    )
    assert response.status_code == 302
    assert not response["Location"].startswith(("http://", "https://", "//"))


def test_access_log_names_staff_actions_only_for_staff(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    """ "Aktion der KV" in the log is written only for KV staff; a wrong confirmation code is
    logged as a wrong security code (access app)."""
    from kvportal.access import services as access
    from kvportal.accounts.constants import AccountKind
    from tests.access import helpers

    practice, leiter, arzt = helpers.mvz_world()
    application = helpers.draft(practice, leiter, arzt)
    with django_capture_on_commit_callbacks(execute=True):
        access.submit(actor=None, application=application)
    token, code = helpers.codes_by_email()["leitung@mvz.example"]
    confirmation = access.find_confirmation(token)
    with pytest.raises(access.CodeMismatch):
        access.confirm_with_code(
            actor=None, confirmation=confirmation, code="000000" if code != "000000" else "111111"
        )
    assert AccessLogEntry.objects.filter(
        activity=Activity.OTP_FAILED, object_id=str(application.pk)
    ).exists()
    staff_entries = AccessLogEntry.objects.filter(activity=Activity.STAFF_ACTION)
    assert all(e.user is not None and e.user.kind == AccountKind.STAFF for e in staff_entries)
