"""Error responses shaped as the OpenAPI schema documents them.

FastAPI documents 422 with a list of ``{loc, msg, type}`` problems; checks done
by hand (a transition that is not allowed, a value out of range) answer in the
same shape, so a client parses one format.
"""

from __future__ import annotations

from fastapi import HTTPException


def unprocessable(message: str, field: str | None = None) -> HTTPException:
    """A 422 for ``message``; ``field`` names the body field at fault when known (``field: reason`` is split)."""
    if field is None and ": " in message:
        head, _, rest = message.partition(": ")
        if head and " " not in head:
            field, message = head, rest
    loc = ["body", *field.split(".")] if field else ["body"]
    return HTTPException(status_code=422, detail=[{"loc": loc, "msg": message, "type": "value_error"}])
