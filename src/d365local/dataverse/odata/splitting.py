"""Splitting OData text on a separator that may also appear inside quotes or parentheses.

Used by resource paths (``accounts(name='a/b')``), ``$expand`` options (``nav($select=a,b;$top=1),other``) and
``Prefer`` headers (``odata.include-annotations="A,B"``).
"""

from __future__ import annotations


class UnbalancedError(ValueError):
    """A quote or parenthesis is left open (or a parenthesis closed that was never opened)."""


def split_outside(text: str, separator: str, *, quote: str = "'", nested: bool = False) -> list[str]:
    """Split ``text`` on ``separator`` outside ``quote``-delimited strings and, when ``nested``, outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    level, quoted = 0, False
    for char in text:
        if char == quote:
            quoted = not quoted
        elif nested and not quoted and char == "(":
            level += 1
        elif nested and not quoted and char == ")":
            level -= 1
            if level < 0:
                raise UnbalancedError(f"Unbalanced parentheses in '{text[:200]}'.")
        if char == separator and level == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if level or quoted:
        raise UnbalancedError(f"Unbalanced parentheses or quotes in '{text[:200]}'.")
    parts.append("".join(current))
    return parts
