"""How many SMS segments a text costs (GSM 03.38 / 3GPP TS 23.038 and 23.040).

A text whose every character is in the GSM 7-bit default alphabet goes as GSM-7: the basic
set costs one septet a character, the extension table two (an escape and the character);
one segment holds 160 septets, each part of a split text 153 (the rest carries the
concatenation header). Any other character makes the whole text UCS-2: 70 UTF-16 units in
one segment, 67 a part, a character outside the BMP costing two. A part never ends between
an escape and its character, nor between the halves of a surrogate pair.
"""

GSM_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")


def is_gsm7(body: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in body)


def count_segments(body: str) -> int:
    """Segments for body (0 for an empty one)."""
    if is_gsm7(body):
        units, single, part = [2 if c in GSM_EXTENSION else 1 for c in body], 160, 153
    else:
        units, single, part = [2 if ord(c) > 0xFFFF else 1 for c in body], 70, 67
    if sum(units) <= single:
        return 1 if units else 0
    segments, used = 1, 0
    for u in units:
        if used + u > part:
            segments, used = segments + 1, 0
        used += u
    return segments
