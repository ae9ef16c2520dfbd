"""/api/classifications: field classifications per dataset and DPO review decisions.

Reviews are versioned per field: read the field (its ``version`` is also the
``ETag`` of ``GET .../fields/{field}``), then POST the decision with
``If-Match: "<version>"``; a stale version gets 409 so concurrent reviewers
never overwrite each other. Every decision is audited with the caller's name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from sentinel.api.auth import current_principal
from sentinel.api.errors import unprocessable
from sentinel.classify import ClassificationStore, ReviewError, ReviewIn, load_taxonomy, open_classification_store
from sentinel.errors import NotFound, VersionConflict
from sentinel.identity import Principal

router = APIRouter(prefix="/api/classifications", tags=["classifications"])

READERS = {"admin", "dpo", "soc_lead", "soc_analyst", "auditor"}
REVIEWERS = {"admin", "dpo", "soc_lead"}


def classification_store(request: Request) -> ClassificationStore:
    """The app's classification store, opened on first use in ``data_dir/classify.db``."""
    state = request.app.state
    if getattr(state, "classification_store", None) is None:
        settings = state.settings
        state.classification_store = open_classification_store(
            settings.classify_db_path, load_taxonomy(settings.classifiers_dir)
        )
    return state.classification_store


def _reader(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role not in READERS:
        raise HTTPException(status_code=403, detail=f"role {principal.role} cannot read classifications")
    return principal


def _reviewer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.role not in REVIEWERS:
        raise HTTPException(
            status_code=403, detail=f"role {principal.role} cannot review; needs one of {', '.join(sorted(REVIEWERS))}"
        )
    return principal


@router.get("")
def list_classifications(
    request: Request,
    principal: Annotated[Principal, Depends(_reader)],
    dataset: Annotated[str | None, Query(description="only datasets whose name contains this")] = None,
) -> dict[str, Any]:
    """Datasets with their latest scan: field counts per category and review progress."""
    datasets = classification_store(request).list_datasets(dataset)
    return {"datasets": datasets, "total": len(datasets)}


def _expected_version(if_match: str | None) -> int:
    if not if_match:
        raise HTTPException(
            status_code=428, detail="send If-Match with the field version you read, so no review is lost"
        )
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise HTTPException(status_code=400, detail=f"If-Match {if_match!r} is not a field version") from None


@router.post("/{dataset:path}/fields/{field}/review")
def review_field(
    dataset: str,
    field: str,
    body: ReviewIn,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(_reviewer)],
    if_match: Annotated[str | None, Header(description="the field version you read")] = None,
) -> dict[str, Any]:
    """Accept the detected classification, or override category and entities; a reason is required."""
    expected = _expected_version(if_match)
    try:
        updated = classification_store(request).review(dataset, field, body, expected, actor=principal.name)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except VersionConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ReviewError as exc:
        raise unprocessable(str(exc)) from None
    response.headers["ETag"] = f'"{updated["version"]}"'
    return updated


@router.get("/{dataset:path}/fields/{field}/history")
def field_history(
    dataset: str, field: str, request: Request, principal: Annotated[Principal, Depends(_reader)]
) -> dict[str, Any]:
    """Every review decision on the field, oldest first."""
    store = classification_store(request)
    try:
        store.field_view(dataset, field)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return {"dataset": dataset, "field": field, "reviews": store.field_history(dataset, field)}


@router.get("/{dataset:path}/audit")
def dataset_audit(
    dataset: str,
    request: Request,
    principal: Annotated[Principal, Depends(_reader)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Review decisions on the dataset's fields, newest first: who, when, before and after."""
    store = classification_store(request)
    try:
        store.dataset_view(dataset)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return {"dataset": dataset, "entries": store.audit_log(dataset, limit)}


@router.get("/{dataset:path}/fields/{field}")
def get_field(
    dataset: str, field: str, request: Request, response: Response, principal: Annotated[Principal, Depends(_reader)]
) -> dict[str, Any]:
    """One field's classification (with its review applied); the ETag is the version to send in If-Match."""
    try:
        fld = classification_store(request).field_view(dataset, field)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    response.headers["ETag"] = f'"{fld["version"]}"'
    return fld


@router.get("/{dataset:path}")
def get_dataset(dataset: str, request: Request, principal: Annotated[Principal, Depends(_reader)]) -> dict[str, Any]:
    """The latest scan of a dataset with review decisions applied (they take precedence)."""
    try:
        return classification_store(request).dataset_view(dataset)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
