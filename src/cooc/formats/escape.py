r"""Token texts in formats whose fields are separated by whitespace (Google n-gram files,
word2vec vectors): one escaped form per token, no whitespace in it, and back.

A token is written as its display text with backslash escapes: `\\` for a backslash, `\s` a
space, `\t` a tab, `\n` a newline, `\r` a carriage return. A token whose text is empty or
already taken by an earlier token (Qwen has two such pairs of byte tokens, and the
whitespace tokenizer's own "</s>" shadows an n-gram index's </s> marker) is written
`\#<id>`, which no escaped text can be. Other whitespace characters (e.g. U+00A0) are kept:
the readers of both formats split on space, tab and newline only.
"""

from __future__ import annotations

from collections.abc import Sequence

_ESC = {"\\": "\\\\", " ": "\\s", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESC = {"\\": "\\", "s": " ", "t": "\t", "n": "\n", "r": "\r"}


def escape(text: str) -> str:
    """A token text in its escaped form (no space, tab, newline or bare backslash)."""
    return "".join(_ESC.get(ch, ch) for ch in text) if any(c in _ESC for c in text) else text


def unescape(token: str) -> str:
    """Inverse of `escape`; ValueError on a dangling or unknown escape."""
    if "\\" not in token:
        return token
    out = []
    i = 0
    while i < len(token):
        ch = token[i]
        if ch == "\\":
            if i + 1 >= len(token) or token[i + 1] not in _UNESC:
                raise ValueError(f"bad escape in token {token!r}")
            out.append(_UNESC[token[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def token_forms(texts: Sequence[str], ids: Sequence[int] | None = None) -> list[str]:
    """The written form of every token: `escape(text)`, or `\\#<id>` for an empty text or one
    an earlier token already has (`ids[i]`, default i, is token i's id)."""
    seen: set[str] = set()
    forms = []
    for i, t in enumerate(texts):
        if not t or t in seen:
            forms.append(f"\\#{i if ids is None else int(ids[i])}")
        else:
            seen.add(t)
            forms.append(escape(t))
    return forms


def id_form(token: str) -> int | None:
    """The id of a `\\#<id>` form, or None for an escaped text."""
    if token.startswith("\\#") and token[2:].isdigit():
        return int(token[2:])
    return None
