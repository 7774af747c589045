"""The local signing agent: loopback only, CORS limited to the portal origin, PIN handling."""

from __future__ import annotations

import base64
import http.client
import json

import pytest

from kvportal.cardlib.agent import (
    AgentError,
    SigningAgent,
    agent_address,
    fixed_pin_provider,
    normalise_origin,
)

PORTAL = "http://portal.test:8000"


class FakeCard:
    """Records what the agent asks; PIN '123456' is right, anything else wrong."""

    def __init__(self):
        self.pins: list[tuple[str, str]] = []
        self.signed_batches: list[int] = []

    def describe(self):
        return {"holder": "Dr. Erika Muster", "telematik_id": "1-1234"}

    def login_token(self, challenge, *, audience, pin_provider):
        pin = pin_provider("PIN.CH", "")
        self.pins.append(("PIN.CH", pin))
        if pin != "123456":
            raise AgentError("pin_wrong", "PIN falsch.", extra={"tries_left": 2})
        return f"signed({challenge}@{audience})"

    def sign_pdfs(self, pdfs, *, reason, pin_provider):
        pin = pin_provider("PIN.QES", "")
        self.pins.append(("PIN.QES", pin))
        self.signed_batches.append(len(pdfs))
        return [pdf + b"\n%signed " + reason.encode() for pdf in pdfs]


@pytest.fixture
def agent():
    card = FakeCard()
    agent = SigningAgent(
        card,
        allowed_origins=[PORTAL],
        pin_provider=fixed_pin_provider("123456"),
        port=0,
        log=lambda line: None,
    )
    agent.start()
    yield agent
    agent.shutdown()


def call(agent, method, path, body=None, origin=PORTAL, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", agent.config.port, timeout=10)
    headers = {}
    if origin:
        headers["Origin"] = origin
    if host:
        headers["Host"] = host
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, (json.loads(data) if data else None)


def test_login_returns_token_and_cors_header_for_portal(agent):
    resp, data = call(agent, "POST", "/login", {"challenge": "abc"})
    assert resp.status == 200
    assert data == {"token": f"signed(abc@{PORTAL})"}
    assert resp.getheader("Access-Control-Allow-Origin") == PORTAL
    assert agent.backend.pins == [("PIN.CH", "123456")]


def test_foreign_origin_is_refused_before_the_card_is_touched(agent):
    resp, data = call(agent, "POST", "/login", {"challenge": "abc"}, origin="http://evil.test")
    assert resp.status == 403
    assert data["error"] == "forbidden_origin"
    assert resp.getheader("Access-Control-Allow-Origin") is None
    assert agent.backend.pins == []


def test_post_without_origin_is_refused(agent):
    resp, _data = call(agent, "POST", "/login", {"challenge": "abc"}, origin=None)
    assert resp.status == 403
    assert agent.backend.pins == []


def test_dns_rebinding_host_is_refused(agent):
    resp, _data = call(agent, "GET", "/status", host="evil.test")
    assert resp.status == 403


def test_preflight_allows_portal_and_private_network(agent):
    resp, _ = call(agent, "OPTIONS", "/sign")
    assert resp.status == 204
    assert resp.getheader("Access-Control-Allow-Origin") == PORTAL
    assert resp.getheader("Access-Control-Allow-Private-Network") == "true"
    assert "Content-Type" in resp.getheader("Access-Control-Allow-Headers")
    resp, _ = call(agent, "OPTIONS", "/sign", origin="http://evil.test")
    assert resp.status == 403


def test_status_shows_card_without_pin(agent):
    resp, data = call(agent, "GET", "/status")
    assert resp.status == 200
    assert data["card"]["telematik_id"] == "1-1234"
    assert agent.backend.pins == []


def test_sign_batch_uses_one_pin_entry(agent):
    docs = [
        {"id": str(i), "name": f"Antrag {i}", "pdf": base64.b64encode(b"%PDF-1.7 doc").decode()}
        for i in range(3)
    ]
    resp, data = call(agent, "POST", "/sign", {"documents": docs, "reason": "Antrag"})
    assert resp.status == 200
    assert [d["id"] for d in data["documents"]] == ["0", "1", "2"]
    assert base64.b64decode(data["documents"][0]["pdf"]).endswith(b"%signed Antrag")
    assert agent.backend.signed_batches == [3]
    assert agent.backend.pins == [("PIN.QES", "123456")]


@pytest.mark.parametrize(
    "docs, fragment",
    [
        ([], "keine Dokumente"),
        ([{"id": "1", "pdf": "!!!"}], "Base64"),
        ([{"id": "1", "pdf": base64.b64encode(b"hello").decode()}], "keine PDF"),
    ],
)
def test_sign_rejects_bad_documents(agent, docs, fragment):
    resp, data = call(agent, "POST", "/sign", {"documents": docs})
    assert resp.status == 422
    assert data["error"] == "bad_request"
    assert fragment in data["message"]
    assert agent.backend.signed_batches == []


def test_card_errors_are_forwarded_with_code(agent):
    agent.pin_provider = fixed_pin_provider("000000")
    resp, data = call(agent, "POST", "/login", {"challenge": "abc"})
    assert resp.status == 422
    assert data == {"error": "pin_wrong", "message": "PIN falsch.", "tries_left": 2}


def test_agent_refuses_non_loopback_binding():
    with pytest.raises(ValueError):
        SigningAgent(FakeCard(), allowed_origins=[PORTAL], host="0.0.0.0")
    with pytest.raises(ValueError):
        agent_address("http://192.168.1.5:8765")
    assert agent_address("http://localhost:9999") == ("127.0.0.1", 9999)
    assert agent_address("http://127.0.0.1") == ("127.0.0.1", 8765)


def test_normalise_origin():
    assert normalise_origin("https://Portal.Example:443/login") == "https://portal.example"
    assert normalise_origin("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    with pytest.raises(ValueError):
        normalise_origin("javascript:alert(1)")


def test_fixed_pin_provider_with_separate_pins():
    both = fixed_pin_provider("123456")
    assert both("PIN.CH", "") == both("PIN.QES", "") == "123456"
    split = fixed_pin_provider("123456,654321")
    assert split("PIN.CH", "") == "123456" and split("PIN.QES", "") == "654321"


def test_card_agent_subcommand_is_registered():
    from kvportal.cardlib import cli

    cli._load_plugins()
    assert "agent" in cli.SUBCOMMANDS


def test_pkcs11_backend_signs_batch_and_refuses_login(card, pki):
    """Pkcs11Backend drives any QES token (here the software card standing in for the PKCS#11
    token; the PKCS#11 token itself is tested with SoftHSM2 in test_lib_pkcs11)."""
    from kvportal.cardlib.agent import Pkcs11Backend
    from kvportal.cardlib.validation import RequiredSigner, validate_pdf_signatures
    from tests.ehba.conftest import PIN_QES, make_pdf

    backend = Pkcs11Backend(card)
    assert backend.describe()["holder"] == "Anna Müller"
    assert backend.describe()["login"] is False
    pins = []
    pdfs = [make_pdf("A"), make_pdf("B")]
    signed = backend.sign_pdfs(
        pdfs, reason="Test", pin_provider=lambda n, p: pins.append(n) or PIN_QES
    )
    assert pins == ["PIN.QES"]
    report = validate_pdf_signatures(
        signed[1],
        original=pdfs[1],
        trust_roots=pki.trust_roots,
        revocation_check=pki.revocation_check,
        required_signers=[RequiredSigner("Anna", "Müller", card.telematik_id)],
    )
    assert report.verdict == "valid"
    with pytest.raises(AgentError) as refused:
        backend.login_token("x", audience=PORTAL, pin_provider=fixed_pin_provider("1"))
    assert refused.value.code == "no_card"
    with pytest.raises(AgentError) as wrong:
        backend.sign_pdfs(pdfs, reason="x", pin_provider=fixed_pin_provider("000000"))
    assert wrong.value.code == "pin_wrong" and wrong.value.extra["tries_left"] == 2
