"""SMS segment counts: one counter (domain/segments.py) for the templates' one-segment rule
and the sender's rate limiter, checked against an independent packer built from the
standard's code tables and octet budgets."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.segments import GSM_BASIC, GSM_EXTENSION, count_segments, is_gsm7


def test_gsm7_segment_counts():
    assert count_segments("") == 0
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("a" * 306) == 2 and count_segments("a" * 307) == 3
    # Extension characters cost two septets, and a pair is never split.
    assert count_segments("€" * 80) == 1 and count_segments("€" * 81) == 2
    assert count_segments("a" + "€" * 76 + "b" * 76) == 2  # 153 then 1 (the pair moves)


def test_ucs2_segment_counts():
    assert not is_gsm7("café ☕")
    assert count_segments("é" * 160) == 1  # é is GSM-7
    assert count_segments("ā" * 70) == 1 and count_segments("ā" * 71) == 2
    assert count_segments("😀" * 35) == 1  # surrogate pairs: two units each
    assert count_segments("😀" * 36) == 2


@pytest.mark.parametrize("body, segments", [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),          # GSM extension: 2 septets each
    ("é" * 160, 1),                        # in the GSM-7 basic set
    ("👍" * 35, 1), ("👍" * 36, 2),        # UCS-2, 2 units each
])
def test_count_segments(body, segments):
    assert count_segments(body) == segments


# ---------------------------------------------------------------- the oracle
# 3GPP TS 23.038 6.2.1: the default alphabet by code (0x1B is the escape to the extension
# table), and the extension table's codes.
ESC = 0x1B
DEFAULT_ALPHABET = (
    ["@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
     "Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", None, "Æ", "æ", "ß", "É",
     " ", "!", '"', "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/"]
    + [chr(ord("0") + i) for i in range(10)] + [":", ";", "<", "=", ">", "?", "¡"]
    + [chr(ord("A") + i) for i in range(26)] + ["Ä", "Ö", "Ñ", "Ü", "§", "¿"]
    + [chr(ord("a") + i) for i in range(26)] + ["ä", "ö", "ñ", "ü", "à"])
EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
             0x3E: "]", 0x40: "|", 0x65: "€"}
BASIC_CODE = {ch: code for code, ch in enumerate(DEFAULT_ALPHABET) if ch is not None}
EXTENSION_CODE = {ch: code for code, ch in EXTENSION.items()}
# 23.040: 140 octets of user data; a concatenated part spends 6 of them on its header
# (UDHL, IEI 0x00, IEDL 3, reference, total, sequence), padded to a septet boundary.
USER_DATA_OCTETS = 140
CONCAT_HEADER_OCTETS = 6


def _gsm_septets(body):
    """Each character as its septet codes, or None when one is not in the alphabet."""
    out = []
    for ch in body:
        if ch in BASIC_CODE:
            out.append((BASIC_CODE[ch],))
        elif ch in EXTENSION_CODE:
            out.append((ESC, EXTENSION_CODE[ch]))
        else:
            return None
    return out


def _ucs2_units(body):
    data = body.encode("utf-16-be")
    units = [data[i:i + 2] for i in range(0, len(data), 2)]
    # A high surrogate and its low one travel together.
    out, i = [], 0
    while i < len(units):
        high = 0xD800 <= int.from_bytes(units[i], "big") <= 0xDBFF
        out.append(tuple(units[i:i + 2]) if high else (units[i],))
        i += 2 if high else 1
    return out


def _pack(symbols, single, part):
    total = sum(len(s) for s in symbols)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, room = 1, part
    for symbol in symbols:
        if len(symbol) > room:
            parts, room = parts + 1, part
        room -= len(symbol)
    return parts


def oracle_segments(body: str) -> int:
    septets = _gsm_septets(body)
    if septets is not None:
        header_septets = -(-CONCAT_HEADER_OCTETS * 8 // 7)
        return _pack(septets, USER_DATA_OCTETS * 8 // 7, USER_DATA_OCTETS * 8 // 7 - header_septets)
    return _pack(_ucs2_units(body), USER_DATA_OCTETS // 2, (USER_DATA_OCTETS - CONCAT_HEADER_OCTETS) // 2)


def test_the_oracles_tables_are_the_standards():
    assert len(DEFAULT_ALPHABET) == 128
    assert set(BASIC_CODE) == GSM_BASIC and set(EXTENSION_CODE) == GSM_EXTENSION


CHARACTERS = st.one_of(
    st.sampled_from(sorted(GSM_BASIC)), st.sampled_from(sorted(GSM_EXTENSION)),
    st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)),
    st.characters(min_codepoint=0x10000, max_codepoint=0x1FAFF))
MOSTLY_GSM = st.lists(st.sampled_from(sorted(GSM_BASIC | GSM_EXTENSION)), max_size=480).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(MOSTLY_GSM, st.lists(CHARACTERS, max_size=400).map("".join)))
def test_segments_agree_with_the_independent_packer(body):
    assert count_segments(body) == oracle_segments(body)
