"""Doc 9303 Part 11 Appendix D worked example (values from docs/devices.md section 2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.icao import bac
from devices.icao.errors import AccessDenied, SecureMessagingError
from devices.icao.mrz import MrzAccess
from devices.simulators.vcard import VirtualTravelDocument

H = bytes.fromhex

ACCESS = MrzAccess("L898902C", "690806", "940623")
RND_ICC = H("4608F91988702212")
RND_IFD = H("781723860C06C226")
K_IFD = H("0B795240CB7049B01C19B33E32804F0B")
K_ICC = H("0B4F80323EB3191CB04970CB4052790B")
K_ENC = H("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = H("7962D9ECE03D1ACD4C76089DCE131543")
CARD = VirtualTravelDocument(photo=None)  # not inserted: its command logic only


def test_mrz_information_and_key_derivation() -> None:
    assert ACCESS.mrz_information == "L898902C<369080619406236"
    seed = bac.key_seed(ACCESS.mrz_information)
    assert seed == H("239AB9CB282DAF66231DC5A4DF6BFBAE")
    assert bac.derive_keys(seed) == (K_ENC, K_MAC)


def test_mutual_authenticate_command() -> None:
    data = bac.authenticate_command(K_ENC, K_MAC, RND_ICC, RND_IFD, K_IFD)
    assert data[:32] == H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert data[32:] == H("5F1448EEA8AD90A7")


def _chip_answer() -> bytes:
    e_icc = bac.encrypt(K_ENC, RND_ICC + RND_IFD + K_ICC)
    return e_icc + bac.mac(K_MAC, e_icc)


def test_session_keys_from_chip_answer() -> None:
    keys = bac.session_from_response(K_ENC, K_MAC, RND_ICC, RND_IFD, K_IFD, response=_chip_answer())
    assert keys.ks_enc == H("979EC13B1CBFE9DCD01AB0FED307EAE5")
    assert keys.ks_mac == H("F1CB1F1FB5ADF208806B89DC579DC1F8")
    assert keys.ssc == 0x887022120C06C226


def test_chip_answer_with_bad_mac_is_refused() -> None:
    answer = bytearray(_chip_answer())
    answer[-1] ^= 1
    with pytest.raises(AccessDenied):
        bac.session_from_response(K_ENC, K_MAC, RND_ICC, RND_IFD, K_IFD, response=bytes(answer))


def _session() -> bac.SecureMessaging:
    return bac.SecureMessaging(
        bac.SessionKeys(
            H("979EC13B1CBFE9DCD01AB0FED307EAE5"),
            H("F1CB1F1FB5ADF208806B89DC579DC1F8"),
            0x887022120C06C226,
        )
    )


def test_protected_select_and_read_binary() -> None:
    sm = _session()
    select = sm.protect(H("00A4020C"), H("011E"))
    assert select == H("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
    assert sm.unprotect(H("990290008E08FA855A5D4C50A8ED9000")) == (b"", 0x9000)
    read = sm.protect(H("00B00000"), le=4)
    assert read == H("0CB000000D9701048E08ED6705417E96BA5500")
    plain, sw = sm.unprotect(H("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"))
    assert (plain, sw) == (H("60145F01"), 0x9000)


def test_response_with_wrong_mac_or_counter_fails() -> None:
    sm = _session()
    sm.protect(H("00A4020C"), H("011E"))
    with pytest.raises(SecureMessagingError):
        sm.unprotect(H("990290008E08FA855A5D4C50A8EC9000"))
    sm = _session()
    sm.protect(H("00A4020C"), H("011E"))
    sm.ssc += 1  # a skipped counter value must break the MAC
    with pytest.raises(SecureMessagingError):
        sm.unprotect(H("990290008E08FA855A5D4C50A8ED9000"))


def test_plain_sm_failure_status_raises() -> None:
    sm = _session()
    sm.protect(H("00B00000"), le=4)
    with pytest.raises(SecureMessagingError):
        sm.unprotect(H("6988"))


def test_parity_adjustment() -> None:
    for byte in bac.adjust_parity(bytes(range(256))):
        assert bin(byte).count("1") % 2 == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_responses_raise_only_secure_messaging_errors(response: bytes) -> None:
    sm = _session()
    sm.protect(H("00B00000"), le=4)
    try:
        sm.unprotect(response)
    except SecureMessagingError:
        pass
    else:
        assert len(response) == 2  # only a bare error status passes without a MAC


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=80))
def test_virtual_card_answers_any_command_with_a_status(apdu: bytes) -> None:
    response = CARD.process(b"\x00\xa4\x04\x0c\x07\xa0\x00\x00\x02\x47\x10\x01")
    assert response == H("9000")
    answer = CARD.process(apdu)
    assert len(answer) >= 2
    assert isinstance(CARD, VirtualTravelDocument)
