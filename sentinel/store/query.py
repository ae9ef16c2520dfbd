"""The small query language of ``sentinel search`` and ``/api/events?q=``.

``source.ip:203.0.113.7 http.response.status_code:404 "union select"`` means:
both fields have those values (a field given twice matches either value; a
value ending in ``*`` is a prefix) and the text contains the words. Values may
be double-quoted to include spaces.
"""

from __future__ import annotations

import re
import shlex

from sentinel.store.base import EventQuery, InvalidQuery

FIELD = re.compile(r"^@?[A-Za-z_][\w.@-]*$")


class QuerySyntaxError(InvalidQuery, ValueError):
    pass


def parse_query(text: str) -> EventQuery:
    """Parse a query string into an :class:`EventQuery`; raise :class:`QuerySyntaxError` on bad input."""
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise QuerySyntaxError(f"cannot read the query ({exc}); close every double quote") from None
    query = EventQuery()
    words: list[str] = []
    for token in tokens:
        name, sep, value = token.partition(":")
        # "http://x" is a word (a URL), not the field "http"
        if sep and FIELD.match(name) and not value.startswith("//"):
            if value == "":
                raise QuerySyntaxError(f"{token!r}: give a value after the colon, e.g. {name}:something")
            query.filters.setdefault(name, []).append(value)
        else:
            words.append(token)
    query.text = " ".join(words) or None
    return query
