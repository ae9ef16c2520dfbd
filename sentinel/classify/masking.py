"""Masked examples: show a DPO the shape of a value without disclosing it."""

from __future__ import annotations

from collections.abc import Iterable

from sentinel.classify.analyzer import Span

KEEP_LAST_DIGITS = 2
MAX_EXAMPLE_CHARS = 120


def mask_span(value: str) -> str:
    """Mask letters and digits, keeping separators, each word's first letter and the last two digits.

    ``Nguyễn Văn An`` -> ``N***** V** A*``; ``0912 345 678`` -> ``0*** *** *78``.
    """
    digit_positions = [i for i, c in enumerate(value) if c.isdigit()]
    keep = set(digit_positions[-KEEP_LAST_DIGITS:]) if len(digit_positions) > 4 else set()
    if digit_positions and len(digit_positions) > 4:
        keep.add(digit_positions[0])
    out = []
    prev_alpha = False
    for i, c in enumerate(value):
        if c.isalpha():
            out.append(c if not prev_alpha and not digit_positions else "*")
            prev_alpha = True
        elif c.isdigit():
            out.append(c if i in keep else "*")
            prev_alpha = False
        else:
            out.append(c)
            prev_alpha = False
    return "".join(out)


def mask_text(text: str, spans: Iterable[Span]) -> str:
    """``text`` with every span masked, cut to a readable length."""
    parts = []
    pos = 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < pos:
            continue
        parts.append(text[pos : span.start])
        parts.append(mask_span(text[span.start : span.end]))
        pos = span.end
    parts.append(text[pos:])
    masked = "".join(parts)
    return masked if len(masked) <= MAX_EXAMPLE_CHARS else masked[: MAX_EXAMPLE_CHARS - 1] + "…"
