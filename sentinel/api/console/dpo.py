"""The data-protection officer's pages: datasets, one dataset's fields, and the review form."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from sentinel.api.classifications import READERS, REVIEWERS, classification_store
from sentinel.api.console.i18n import language, translator
from sentinel.api.console.pages import Caller, PageError, console_router, guarded, see_other
from sentinel.api.console.rendering import render
from sentinel.classify import ReviewError, ReviewIn
from sentinel.errors import NotFound, VersionConflict
from sentinel.identity import Principal

router = console_router()


def _classifications(request: Request, principal: Principal, roles: set[str], what: str) -> Any:
    if principal.role not in roles:
        raise PageError(403, "err_role", role=principal.role, what=what)
    return classification_store(request)


@router.get("/dpo")
@guarded
def dpo_page(request: Request, principal: Caller, contains: str = "") -> Response:
    """Datasets with their latest scan and review progress."""
    store = _classifications(request, principal, READERS, "may_read_classifications")
    return render(request, "dpo.html", principal, datasets=store.list_datasets(contains or None), contains=contains)


@router.get("/dpo/{dataset:path}")
@guarded
def dpo_dataset(request: Request, principal: Caller, dataset: str, conflict: str = "", accepted: int = 0) -> Response:
    store = _classifications(request, principal, READERS, "may_read_classifications")
    try:
        view = store.dataset_view(dataset)
    except NotFound as exc:
        raise PageError(404, detail=str(exc)) from None
    return render(
        request,
        "dpo_dataset.html",
        principal,
        view=view,
        dataset=dataset,
        conflict=conflict,
        accepted=accepted,
        can_review=principal.role in REVIEWERS,
        entities=sorted(store.taxonomy.entities),
    )


@router.post("/dpo-review")
@guarded
def dpo_review(
    request: Request,
    principal: Caller,
    dataset: Annotated[str, Form()],
    field: Annotated[str, Form()],
    version: Annotated[int, Form()],
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    category: Annotated[str, Form()] = "",
    entities: Annotated[str, Form()] = "",
) -> Response:
    """Accept or override one field's classification (the classifier's review store keeps version and audit)."""
    store = _classifications(request, principal, REVIEWERS, "may_review_classifications")
    data: dict[str, Any] = {"decision": decision, "reason": reason.strip()}
    if decision == "override":
        if category:
            data["category"] = category
        if entities.strip():
            data["entities"] = [e for e in entities.replace(",", " ").split() if e]
    try:
        store.review(dataset, field, ReviewIn.model_validate(data), version, actor=principal.name)
    except ValidationError as exc:
        raise PageError(422, detail=exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    except NotFound as exc:
        raise PageError(404, detail=str(exc)) from None
    except ReviewError as exc:
        raise PageError(422, detail=str(exc)) from None
    except VersionConflict as exc:
        return see_other(f"/console/dpo/{quote(dataset)}?conflict={exc.actual}#f-{quote(field)}")
    return see_other(f"/console/dpo/{quote(dataset)}#f-{quote(field)}")


@router.post("/dpo-accept-all")
@guarded
def dpo_accept_all(request: Request, principal: Caller, dataset: Annotated[str, Form()]) -> Response:
    """Accept the classifier's suggestion for every field of a dataset nobody has reviewed yet."""
    store = _classifications(request, principal, REVIEWERS, "may_review_classifications")
    reason = translator(language(request))("accept_all_reason")
    try:
        accepted = store.accept_all(dataset, reason, actor=principal.name)
    except NotFound as exc:
        raise PageError(404, detail=str(exc)) from None
    return see_other(f"/console/dpo/{quote(dataset)}?accepted={accepted}")
