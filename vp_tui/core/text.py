"""Showing text that came from somewhere else: providers, jobs, users.

Such text is data. Markup is never interpreted (that is up to each face), and
control characters are made visible here, so a label or an error message can
neither move the cursor, recolour the terminal nor hide what follows it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["visible"]


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with control characters written out (``\\x1b``), tabs as spaces.

    With ``newlines``, line breaks are kept; otherwise they are written out too,
    so the text stays on one line (a table cell, a one-line error).
    """
    out: list[str] = []
    for char in text:
        if char == "\t":
            out.append(" ")
        elif char == "\n" and newlines:
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf") and char not in "\u200d":
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)
