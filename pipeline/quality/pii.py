"""PII detection and redaction: emails, phone numbers (CN and international), CN resident
ID numbers (checksum-verified), payment card numbers (Luhn-verified) and public IPv4s.

Validation keeps false positives down: an 18-digit number is an ID only when its
checksum holds, a 13-19 digit run is a card only when it passes Luhn and starts like a
card, and private/loopback IPs, documentation domains (example.com) are not personal.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

_EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
_PHONE_RES = (
    re.compile(r"(?<![\d+.])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![\d.])"),       # CN mobile
    re.compile(r"(?<![\w+])\+\d{1,3}[- ]?(?:\(\d{1,4}\)[- ]?)?\d{2,4}(?:[- ]\d{2,4}){1,3}(?!\d)"),  # +intl
    # NANP; 555-01xx style fictional numbers are filtered in Pii.find.
    re.compile(r"(?<!\d)\(\d{3}\)\s?\d{3}-\d{4}(?!\d)|(?<![\d-])\d{3}-\d{3}-\d{4}(?![\d-])"),
    re.compile(r"(?<![\d-])0\d{2,3}-\d{7,8}(?![\d-])"),                                   # CN landline
)
_ID_RE = re.compile(r"(?<![\d.])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])")
# A card is one run of 13-19 digits, or groups of four (Amex 4-6-5) split by one space/dash.
_CARD_RE = re.compile(r"(?<![\d.,-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}|\d{4}([ -])\d{6}\2\d{5})(?![\d-]|\.\d)")
_IP_RE = re.compile(r"(?<![\d.vV])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
_DIGITS4_RE = re.compile(r"\d\d\d\d")  # spelled out: a leading class lets ``re`` skip ahead in C
_IP_GUARD_RE = re.compile(r"\d\.\d")  # an IPv4 has a digit, a dot, a digit
# What each phone pattern cannot match without: "+" (international) or four digits in a row.
_PHONE_GUARDED = tuple(zip(_PHONE_RES, ("4", "+", "4", "4")))
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_valid(s: str) -> bool:
    """GB 11643 checksum of an 18-character resident ID number."""
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class Pii:
    """Find and redact PII; scores ``pii`` (number of items), check ``pii``.

    Args:
        rules: ``pii_allow`` with ``email_domains`` and ``ip_prefixes`` that are not
            personal, and ``pii_placeholders`` mapping each kind to its replacement.
    """

    def __init__(self, rules: Mapping[str, Any]):
        allow = rules.get("pii_allow") or {}
        self.domains = {d.lower() for d in allow.get("email_domains") or ()}
        self.ip_prefixes = tuple(allow.get("ip_prefixes") or ())
        self.placeholders = dict(rules.get("pii_placeholders") or {})

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """PII spans ``(kind, start, end)`` in ``text``, non-overlapping, in text order."""
        if not text:
            return []
        # Every pattern but two needs four digits in a row (IDs, cards, most phones); an
        # email needs "@", the international phone a "+", an IP a digit-dot-digit. These
        # cheap tests skip the patterns on most text.
        run4 = _DIGITS4_RE.search(text) is not None
        ip = "." in text and _IP_GUARD_RE.search(text) is not None
        if not (run4 or ip or "@" in text or "+" in text):
            return []
        spans: list[tuple[str, int, int]] = []
        if "@" in text:
            for m in _EMAIL_RE.finditer(text):
                dom = m.group(1).lower()
                if dom not in self.domains and not any(dom.endswith("." + d) for d in self.domains):
                    spans.append(("email", m.start(), m.end()))
        if run4:
            for m in _ID_RE.finditer(text):
                if cn_id_valid(m.group(0)):
                    spans.append(("id_number", m.start(), m.end()))
            for m in _CARD_RE.finditer(text):
                digits = re.sub(r"\D", "", m.group(0))
                if 13 <= len(digits) <= 19 and digits[0] in "3456" and luhn_valid(digits):
                    spans.append(("card", m.start(), m.end()))
        for rx, needs in _PHONE_GUARDED:
            if run4 if needs == "4" else needs in text:
                spans += [("phone", m.start(), m.end()) for m in rx.finditer(text) if not _fictional(m.group(0))]
        if ip:
            for m in _IP_RE.finditer(text):
                # "1.2.3.4" is a version string far more often than an address.
                if not m.group(0).startswith(self.ip_prefixes) and len(m.group(0)) > 7:
                    spans.append(("ip", m.start(), m.end()))
        return _non_overlapping(spans)

    def redact(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every PII span replaced by its placeholder, and the kinds replaced."""
        spans = self.find(text)
        if not spans:
            return text, []
        out, pos = [], 0
        for kind, a, b in spans:
            out += [text[pos:a], str(self.placeholders.get(kind, f"[{kind.upper()}]"))]
            pos = b
        out.append(text[pos:])
        return "".join(out), [k for k, _, _ in spans]


def _fictional(phone: str) -> bool:
    # North American 555 exchange numbers are reserved for fiction and examples.
    digits = re.sub(r"\D", "", phone)
    return len(digits) == 10 and digits[3:6] == "555"


def _non_overlapping(spans: Iterable[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    # Earlier kinds win ties (email, id, card before phone, ip) because they were
    # validated more strictly; then keep spans in text order.
    chosen: list[tuple[str, int, int]] = []
    for kind, a, b in spans:
        if all(b <= x or a >= y for _, x, y in chosen):
            chosen.append((kind, a, b))
    return sorted(chosen, key=lambda s: s[1])
