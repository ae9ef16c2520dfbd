from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sentinel.api.app import create_app
from sentinel.classify.review import ReviewError, ReviewIn, open_classification_store
from sentinel.classify.scan import scan_dataset
from sentinel.classify.taxonomy import load_taxonomy
from sentinel.config import load_settings
from sentinel.identity import Principal
from tests.content import CLASSIFIERS


class RoleAuth:
    """Caller name and role from the X-Test-User header ("name:role")."""

    def authenticate(self, request):
        name, _, role = request.headers.get("X-Test-User", "dpo1:dpo").partition(":")
        return Principal(name=name, role=role)


@pytest.fixture
def setup(tmp_path: Path, citizens_csv: Path):
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path / "data")})
    store = open_classification_store(settings.classify_db_path, load_taxonomy(classifiers_dir=CLASSIFIERS))
    result = scan_dataset(str(citizens_csv), classifiers_dir=CLASSIFIERS)[0]
    store.save_scan(result)
    store.close()
    client = TestClient(create_app(settings, authenticator=RoleAuth()))
    yield client, result.dataset, settings, citizens_csv
    client.close()


def url(dataset: str, tail: str = "") -> str:
    return f"/api/classifications/{dataset}{tail}"


def test_list_and_read(setup) -> None:
    client, dataset, _, _ = setup
    listing = client.get("/api/classifications").json()
    assert listing["total"] == 1
    summary = listing["datasets"][0]
    assert summary["dataset"] == dataset
    assert (summary["fields"], summary["sensitive_fields"], summary["reviewed_fields"]) == (9, 1, 0)
    assert client.get("/api/classifications", params={"dataset": "nothing-like-this"}).json()["total"] == 0
    view = client.get(url(dataset)).json()
    fields = {f["field"]: f for f in view["fields"]}
    assert fields["so_cccd"]["category"] == "basic"
    assert fields["dan_toc"]["category"] == "sensitive"
    resp = client.get(url(dataset, "/fields/so_cccd"))
    assert resp.headers["ETag"] == '"0"'
    assert client.get(url(dataset + "x")).status_code == 404
    assert client.get(url(dataset, "/fields/nope")).status_code == 404


def test_override_is_versioned_audited_and_survives_rescans(setup) -> None:
    client, dataset, settings, csv_path = setup
    body = {
        "decision": "override",
        "category": "sensitive",
        "entities": ["VN_BANK_ACCOUNT"],
        "reason": "ma_ho_so holds account numbers here",
    }
    assert client.post(url(dataset, "/fields/ma_ho_so/review"), json=body).status_code == 428
    resp = client.post(url(dataset, "/fields/ma_ho_so/review"), json=body, headers={"If-Match": '"0"'})
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == '"1"'
    field = resp.json()
    assert (field["category"], field["sensitivity"], field["version"]) == ("sensitive", 4, 1)
    assert field["review"]["by"] == "dpo1"
    assert field["detected"] == {"category": "none", "entities": ["DOSSIER_CODE"]}  # a look-up key, not personal
    # a second reviewer who read version 0 is refused
    stale = client.post(
        url(dataset, "/fields/ma_ho_so/review"),
        json={"decision": "accept", "reason": "looks right"},
        headers={"If-Match": '"0"', "X-Test-User": "dpo2:dpo"},
    )
    assert stale.status_code == 409
    assert "version 1" in stale.json()["detail"]
    ahead = client.post(
        url(dataset, "/fields/ma_ho_so/review"),
        json={"decision": "accept", "reason": "looks right"},
        headers={"If-Match": '"2"', "X-Test-User": "dpo2:dpo"},
    )
    assert ahead.status_code == 409 and "version 1" in ahead.json()["detail"]
    ok = client.post(
        url(dataset, "/fields/ma_ho_so/review"),
        json={"decision": "accept", "reason": "confirmed with the data owner"},
        headers={"If-Match": '"1"', "X-Test-User": "dpo2:dpo"},
    )
    assert ok.json()["version"] == 2
    history = client.get(url(dataset, "/fields/ma_ho_so/history")).json()["reviews"]
    assert [(h["version"], h["decision"], h["by"]) for h in history] == [(1, "override", "dpo1"), (2, "accept", "dpo2")]
    # a later scan does not undo the decision
    store = open_classification_store(settings.classify_db_path, load_taxonomy(classifiers_dir=CLASSIFIERS))
    store.save_scan(scan_dataset(str(csv_path), classifiers_dir=CLASSIFIERS)[0])
    store.close()
    audit = client.get(url(dataset, "/audit")).json()["entries"]
    assert [(a["action"], a["actor"]) for a in audit] == [("review.accept", "dpo2"), ("review.override", "dpo1")]
    assert audit[1]["before"]["category"] == "none" and audit[1]["after"]["category"] == "sensitive"
    view = {f["field"]: f for f in client.get(url(dataset)).json()["fields"]}
    assert view["ma_ho_so"]["category"] == "sensitive"
    assert view["ma_ho_so"]["entities"][0]["type"] == "VN_BANK_ACCOUNT"
    assert client.get("/api/classifications").json()["datasets"][0]["reviewed_fields"] == 1


def test_bad_reviews_are_refused(setup) -> None:
    client, dataset, _, _ = setup
    post = lambda body, **h: client.post(  # noqa: E731
        url(dataset, "/fields/so_cccd/review"), json=body, headers={"If-Match": '"0"', **h}
    )
    assert post({"decision": "override", "reason": "no values given"}).status_code == 422
    assert post({"decision": "override", "entities": ["SSN"], "reason": "typo"}).status_code == 422
    assert post({"decision": "accept", "category": "none", "reason": "mixed"}).status_code == 422
    assert post({"decision": "accept", "reason": ""}).status_code == 422
    assert post({"decision": "accept", "reason": "fine"}, **{"X-Test-User": "ana:soc_analyst"}).status_code == 403
    assert client.get("/api/classifications", headers={"X-Test-User": "c:collector"}).status_code == 403
    bad = client.post(url(dataset, "/fields/so_cccd/review"), json={"decision": "accept", "reason": "fine"},
                      headers={"If-Match": "abc"})  # fmt: skip
    assert bad.status_code == 400


def test_override_to_none_drops_personal_entities_and_level(tmp_path: Path, citizens_csv: Path) -> None:
    store = open_classification_store(tmp_path / "data" / "classify.db", load_taxonomy(classifiers_dir=CLASSIFIERS))
    try:
        dataset = scan_dataset(str(citizens_csv), classifiers_dir=CLASSIFIERS)[0]
        store.save_scan(dataset)
        field = store.review(
            dataset.dataset,
            "dia_chi_thuong_tru",
            ReviewIn(decision="override", category="none", reason="an office's seat"),
            0,
            "dpo1",
        )
        assert (field["category"], field["entities"], field["sensitivity"]) == ("none", [], 0)
        with pytest.raises(ReviewError, match="contradicts personal entities LOCATION"):
            store.review(
                dataset.dataset,
                "hoTen",
                ReviewIn(decision="override", category="none", entities=["LOCATION"], reason="wrong"),
                0,
                "dpo1",
            )
        assert store.accept_all(dataset.dataset, "all suggestions accepted", "dpo1") == 8  # the reviewed one stays
        view = store.dataset_view(dataset.dataset)
        assert all(f["review"] is not None for f in view["fields"])
        assert {f["field"]: f["review"]["decision"] for f in view["fields"]}["dia_chi_thuong_tru"] == "override"
        assert store.accept_all(dataset.dataset, "again", "dpo1") == 0
    finally:
        store.close()


def test_console_review_page_speaks_the_dpos_language(setup) -> None:
    client, dataset, _, _ = setup
    page = client.get(f"/console/dpo/{dataset}", params={"lang": "en"})
    assert page.status_code == 200
    html = page.text
    nav = html[html.index("<nav>") : html.index("</nav>")]
    assert "/console/dpo" in nav and "/console/alerts" not in nav and "/console/runs" not in nav  # no 403 links
    assert 'class="brand" href="/console/"' in html
    assert "basic personal data" in html and "not personal data" in html
    assert ">protected<" in html and ">sensitive<" not in html  # "sensitive" is a category, never a level
    accepted = client.post("/console/dpo-accept-all", data={"dataset": dataset}, follow_redirects=False)
    assert accepted.status_code == 303 and accepted.headers["location"].endswith("?accepted=9")
    view = client.get(url(dataset)).json()
    assert all(f["review"]["decision"] == "accept" for f in view["fields"])
    analyst = {"X-Test-User": "lan:soc_analyst"}
    assert client.post("/console/dpo-accept-all", data={"dataset": dataset}, headers=analyst).status_code == 403
