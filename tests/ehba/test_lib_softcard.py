"""Software eHBA: every card state transition (transport PIN, PIN.CH/PIN.QES, PUK, expiry,
revocation, follow-up card) and the batch counter of one PIN.QES entry."""

from __future__ import annotations

import datetime as dt

import pytest

from kvportal.cardlib.softcard import (
    BatchLimitExceeded,
    CardExpired,
    CardNotFound,
    CardNotYetValid,
    CardRevoked,
    CardUnusable,
    InvalidPinFormat,
    PinBlocked,
    PinChangeNotAllowed,
    PinType,
    PukBlocked,
    SessionClosed,
    SoftCard,
    TransportPinActive,
    WrongPin,
    WrongPuk,
    WrongTransportPin,
)
from tests.ehba.conftest import (
    PIN_CH,
    PIN_QES,
    PUK_CH,
    PUK_QES,
    TRANSPORT_CH,
    TRANSPORT_QES,
)

DATA = b"challenge"


def test_new_card_is_in_transport_state_and_refuses_use(new_card):
    card = new_card(active=False)
    st = card.status()
    assert st.state == "transport"
    assert st.pins[PinType.CH].status == "transport"
    assert st.pins[PinType.QES].status == "transport"
    with pytest.raises(TransportPinActive) as exc:
        card.sign_authentication(TRANSPORT_CH, DATA)
    assert exc.value.code == "transport_pin_active"
    assert "Transport-PIN" in exc.value.message_de
    with pytest.raises(TransportPinActive):
        card.open_qes_session(TRANSPORT_QES)
    # refusing in transport state does not consume tries
    assert card.status().pins[PinType.CH].remaining_tries == 3


def test_changing_transport_pins_activates_the_card(new_card):
    card = new_card(active=False)
    card.change_pin(PinType.CH, TRANSPORT_CH, PIN_CH)
    assert card.status().state == "transport"  # PIN.QES still transport
    card.change_pin(PinType.QES, TRANSPORT_QES, PIN_QES)
    st = card.status()
    assert st.state == "active"
    assert st.pins[PinType.CH] == st.pins[PinType.QES]
    assert st.pins[PinType.CH].status == "verifiable"
    assert len(card.sign_authentication(PIN_CH, DATA)) == 64


def test_three_wrong_transport_pins_make_the_card_unusable(new_card):
    card = new_card(active=False)
    with pytest.raises(WrongTransportPin) as exc:
        card.change_pin(PinType.QES, "999999", PIN_QES)
    assert exc.value.remaining == 2
    with pytest.raises(WrongTransportPin) as exc:
        card.change_pin(PinType.QES, "999999", PIN_QES)
    assert exc.value.remaining == 1
    with pytest.raises(CardUnusable):
        card.change_pin(PinType.QES, "999999", PIN_QES)
    assert card.status().state == "unusable"
    assert card.status().pins[PinType.QES].status == "dead"
    # even the right transport PIN and the other PIN no longer help
    with pytest.raises(CardUnusable):
        card.change_pin(PinType.QES, TRANSPORT_QES, PIN_QES)
    with pytest.raises(CardUnusable):
        card.change_pin(PinType.CH, TRANSPORT_CH, PIN_CH)
    with pytest.raises(CardUnusable):
        card.sign_authentication(PIN_CH, DATA)


@pytest.mark.parametrize("new", ["12345", "123456789", "12a456", ""])
def test_new_pin_must_be_6_to_8_digits(new_card, new):
    card = new_card(active=False)
    with pytest.raises(InvalidPinFormat):
        card.change_pin(PinType.CH, TRANSPORT_CH, new)
    assert card.status().pins[PinType.CH].status == "transport"


def test_new_pin_must_differ_from_transport_pin(new_card):
    card = new_card(active=False)
    with pytest.raises(InvalidPinFormat):
        card.change_pin(PinType.CH, TRANSPORT_CH, TRANSPORT_CH)


def test_wrong_pin_reports_remaining_tries_and_right_pin_resets(card):
    with pytest.raises(WrongPin) as exc:
        card.sign_authentication("000000", DATA)
    assert exc.value.remaining == 2 and exc.value.code == "wrong_pin"
    assert "2 Versuche" in exc.value.message_de
    with pytest.raises(WrongPin) as exc:
        card.sign_authentication("000000", DATA)
    assert exc.value.remaining == 1
    assert "1 Versuch." in exc.value.message_de
    card.sign_authentication(PIN_CH, DATA)
    assert card.status().pins[PinType.CH].remaining_tries == 3


def test_third_wrong_pin_blocks_and_puk_unblocks_pin_ch_with_new_value(card):
    for _ in range(2):
        with pytest.raises(WrongPin):
            card.sign_authentication("000000", DATA)
    with pytest.raises(PinBlocked):
        card.sign_authentication("000000", DATA)
    assert card.status().pins[PinType.CH].status == "blocked"
    with pytest.raises(PinBlocked):  # right PIN no longer accepted
        card.sign_authentication(PIN_CH, DATA)
    # PIN.QES is independent
    card.open_qes_session(PIN_QES).close()
    with pytest.raises(WrongPuk) as exc:
        card.unblock_pin(PinType.CH, "00000000")
    assert exc.value.remaining == 2
    card.unblock_pin(PinType.CH, PUK_CH, new_pin="24682468")
    st = card.status()
    assert st.pins[PinType.CH].status == "verifiable"
    assert st.pins[PinType.CH].remaining_tries == 3
    assert st.puks[PinType.CH].remaining_tries == 3
    assert st.puks[PinType.CH].remaining_uses == 9
    card.sign_authentication("24682468", DATA)
    with pytest.raises(WrongPin):
        card.sign_authentication(PIN_CH, DATA)


def test_pin_qes_is_only_unblocked_keeping_its_old_value(card):
    for _ in range(3):
        with pytest.raises((WrongPin, PinBlocked)):
            card.open_qes_session("000000")
    with pytest.raises(PinBlocked):
        card.open_qes_session(PIN_QES)
    with pytest.raises(PinChangeNotAllowed):
        card.unblock_pin(PinType.QES, PUK_QES, new_pin="11223344")
    card.unblock_pin(PinType.QES, PUK_QES)
    card.open_qes_session(PIN_QES).close()


def test_three_wrong_puks_block_the_puk(card):
    for _ in range(3):
        with pytest.raises((WrongPin, PinBlocked)):
            card.sign_authentication("000000", DATA)
    with pytest.raises(WrongPuk):
        card.unblock_pin(PinType.CH, "00000000")
    with pytest.raises(WrongPuk):
        card.unblock_pin(PinType.CH, "00000000")
    with pytest.raises(PukBlocked) as exc:
        card.unblock_pin(PinType.CH, "00000000")
    assert exc.value.code == "puk_blocked"
    with pytest.raises(PukBlocked):
        card.unblock_pin(PinType.CH, PUK_CH)
    assert card.status().pins[PinType.CH].status == "blocked"


def test_puk_can_be_used_ten_times(card):
    for _ in range(10):
        card.unblock_pin(PinType.QES, PUK_QES)
    assert card.status().puks[PinType.QES].remaining_uses == 0
    with pytest.raises(PukBlocked) as exc:
        card.unblock_pin(PinType.QES, PUK_QES)
    assert "zehnmal" in exc.value.message_de


def test_change_personal_pin(card):
    with pytest.raises(WrongPin):
        card.change_pin(PinType.QES, "000000", "11223344")
    card.change_pin(PinType.QES, PIN_QES, "11223344")
    card.open_qes_session("11223344").close()
    with pytest.raises(WrongPin):
        card.open_qes_session(PIN_QES)


def test_set_transport_pin_returns_to_transport_state(card):
    card.set_transport_pin(PinType.CH, "135790")
    assert card.status().state == "transport"
    with pytest.raises(TransportPinActive):
        card.sign_authentication(PIN_CH, DATA)
    card.change_pin(PinType.CH, "135790", PIN_CH)
    assert card.status().state == "active"


def test_state_is_shared_through_the_card_file(card):
    other = SoftCard.load(card.card_id, directory=card.path.parent.parent)
    with pytest.raises(WrongPin):
        other.sign_authentication("000000", DATA)
    assert card.status().pins[PinType.CH].remaining_tries == 2
    assert SoftCard.find(card.lanr, directory=card.path.parent.parent).card_id == card.card_id
    with pytest.raises(CardNotFound):
        SoftCard.find("999999999", directory=card.path.parent.parent)


def test_expired_card(new_card):
    now = dt.datetime.now(dt.UTC)
    card = new_card(not_before=now - dt.timedelta(days=1000), not_after=now - dt.timedelta(days=1))
    assert card.status().state == "expired"
    with pytest.raises(CardExpired) as exc:
        card.sign_authentication(PIN_CH, DATA)
    assert "abgelaufen" in exc.value.message_de
    with pytest.raises(CardExpired):
        card.open_qes_session(PIN_QES)
    card.enforce_validity = False  # a real card still computes signatures
    card.sign_authentication(PIN_CH, DATA)


def test_not_yet_valid_card(new_card):
    now = dt.datetime.now(dt.UTC)
    card = new_card(not_before=now + dt.timedelta(days=2))
    assert card.status().state == "not_yet_valid"
    with pytest.raises(CardNotYetValid):
        card.sign_authentication(PIN_CH, DATA)


def test_revocation_is_irreversible(card, pki):
    card.revoke(pki)
    st = card.status()
    assert st.state == "revoked" and st.revoked_at is not None
    for cert, issuer in (
        (card.aut_certificate, pki.hba_ca_cert),
        (card.enc_certificate, pki.hba_ca_cert),
        (card.qes_certificate, pki.qes_ca_cert),
    ):
        assert pki.revocation_check(cert, issuer).status == "revoked"
    with pytest.raises(CardRevoked):
        card.sign_authentication(PIN_CH, DATA)
    with pytest.raises(CardRevoked):
        card.open_qes_session(PIN_QES)
    first = st.revoked_at
    card.revoke(pki)
    card.set_transport_pin(PinType.CH, "135790")
    assert card.status().state == "revoked"
    assert card.status().revoked_at == first


def test_follow_up_card_has_new_keys_and_links(card, pki):
    new, secrets_ = card.follow_up(pki)
    assert new.card_id != card.card_id
    assert new.telematik_id == card.telematik_id
    assert new.lanr == card.lanr
    assert new.status().state == "transport"
    assert new.status().predecessor_id == card.card_id
    assert card.status().successor_id == new.card_id
    assert new.aut_certificate.public_key() != card.aut_certificate.public_key()
    assert new.qes_certificate.public_key() != card.qes_certificate.public_key()
    assert new.qes_certificate.serial_number != card.qes_certificate.serial_number
    new.change_pin(PinType.CH, secrets_.transport_pin_ch, PIN_CH)
    new.sign_authentication(PIN_CH, DATA)
    # the newest card of the person is found by LANR
    assert SoftCard.find(card.lanr, directory=card.path.parent.parent).card_id == new.card_id
    other, _ = card.follow_up(pki, telematik_id="1-114999999")
    assert other.telematik_id == "1-114999999"


def test_one_pin_entry_allows_batch_size_signatures(new_card):
    card = new_card(batch_size=3)
    session = card.open_qes_session(PIN_QES)
    for _ in range(3):
        session.sign(b"doc")
    assert session.remaining == 0
    with pytest.raises(BatchLimitExceeded) as exc:
        session.sign(b"doc")
    assert "höchstens 3" in exc.value.message_de
    session.close()
    with pytest.raises(SessionClosed):
        session.sign(b"doc")


def test_default_batch_size_is_254(card):
    assert card.batch_size == 254
    assert card.status().batch_size == 254


def test_status_text_and_dict(card):
    text = card.status().text_de()
    assert "einsatzbereit" in text and "PIN.QES" in text and card.telematik_id in text
    d = card.status().to_dict()
    assert d["pins"]["qes"] == {"status": "verifiable", "remaining_tries": 3}
    assert d["state"] == "active"


def test_card_file_holds_no_plain_pins(card):
    import json

    def values(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from values(v)
        elif isinstance(node, list):
            for v in node:
                yield from values(v)
        else:
            yield node

    stored = set(values(json.loads(card.path.read_text())))
    assert not stored & {PIN_CH, PIN_QES, PUK_CH, PUK_QES, TRANSPORT_CH, TRANSPORT_QES}
