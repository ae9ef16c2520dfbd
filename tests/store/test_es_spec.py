"""The validator over Elastic's specification metamodel, one feature at a time, on real types of ``schema.json``."""

from __future__ import annotations

import pytest

QUERY = "_types.query_dsl::QueryContainer"
PROPERTY = "_types.mapping::Property"


@pytest.mark.parametrize(
    ("value", "type_key"),
    [
        # inheritance: ignore_above comes from PropertyBase, through DocValuesPropertyBase
        ({"type": "keyword", "ignore_above": 1024, "doc_values": False}, PROPERTY),
        # internally tagged union with a default tag: no "type" is an object
        ({"properties": {"a": {"type": "long"}, "b": {"enabled": False}}}, PROPERTY),
        # AdditionalProperties: index settings take settings the specification does not list (plugins)
        ({"index": {"number_of_shards": 1, "some_plugin.setting": "x"}}, "indices._types::IndexSettings"),
        # AdditionalProperty: terms takes one field besides its own options
        ({"terms": {"source.ip": ["10.0.0.0/8"], "boost": 2}}, QUERY),
        # shortcut property: a term's value may stand for the whole object
        ({"term": {"event.id": "abc"}}, QUERY),
        ({"term": {"event.id": {"value": "abc", "case_insensitive": True}}}, QUERY),
        # a union of one value or an array of them
        ({"bool": {"filter": {"match_all": {}}, "must_not": [{"exists": {"field": "x"}}]}}, QUERY),
        # untagged union (RangeQuery): the date variant
        ({"range": {"@timestamp": {"gte": "now-1h", "format": "strict_date_optional_time"}}}, QUERY),
        # enum members given as booleans, as Elasticsearch accepts
        ({"dynamic": False, "properties": {}}, "_types.mapping::TypeMapping"),
        # Ids: one id or a list of them
        ({"ids": {"values": "x"}}, QUERY),
        # user-defined values: a document is anything
        ({"_index": "i", "_id": "1", "found": True, "_source": {"any": ["thing", 1]}}, "_global.get::GetResult"),
    ],
)
def test_valid_values(es_spec, value, type_key):
    assert es_spec.valid(value, type_key) == []


@pytest.mark.parametrize(
    ("value", "type_key", "problem"),
    [
        ({"type": "keyword", "ignore_abov": 5}, PROPERTY, "unknown property 'ignore_abov' in KeywordProperty"),
        ({"type": "keywrd"}, PROPERTY, "type 'keywrd' is not a known Property variant"),
        ({"terms": {"a": ["x"], "b": ["y"]}}, QUERY, "at most one key besides the known properties, got a, b"),
        ({"term": {"a": 1, "b": 2}}, QUERY, "expected exactly one key, got 2"),
        ({"match_all": {}, "match_none": {}}, QUERY, "holds exactly one of its variants"),
        ({}, QUERY, "holds exactly one of its variants, got none"),
        ({"dynamic": "sometimes"}, "_types.mapping::TypeMapping", "'sometimes' is not a DynamicMapping"),
        ({"index_patterns": 5, "composed_of": []}, "indices._types::IndexTemplate", "value.index_patterns"),
        ({"composed_of": []}, "indices._types::IndexTemplate", "missing required property 'index_patterns'"),
        ({"range": {"a": {"gte": 1, "bogus": 2}}}, QUERY, "bogus"),
    ],
)
def test_invalid_values_say_what_and_where(es_spec, value, type_key, problem):
    problems = es_spec.valid(value, type_key)
    assert any(problem in p for p in problems), problems


def test_unknown_type_names_are_an_error_not_a_pass(es_spec):
    with pytest.raises(KeyError, match="no type"):
        es_spec.valid({}, "_types.query_dsl::QueryContainr")


def test_endpoints_are_matched_by_method_and_most_literal_path(es_spec):
    assert es_spec.match("PUT", "/_bulk").endpoint.name == "bulk"  # not indices.create on /{index}
    assert es_spec.match("PUT", "/sentinel-alerts-000001").endpoint.name == "indices.create"
    m = es_spec.match("PUT", "/sentinel-alerts/_doc/a%2Fb")
    assert m.endpoint.name == "index" and m.path_params == {"index": "sentinel-alerts", "id": "a/b"}
    assert es_spec.match("PATCH", "/x") is None


def test_query_parameters_are_checked_as_text(es_spec):
    def problems(query: dict) -> list[str]:
        return es_spec.check_request("POST", "/x/_pit", query, b"", "9.0.0")[1]

    assert problems({"keep_alive": "2m", "ignore_unavailable": "true", "expand_wildcards": "open,hidden"}) == []
    assert any("ignore_unavailable='yes'" in p for p in problems({"keep_alive": "2m", "ignore_unavailable": "yes"}))
    assert any(
        "expand_wildcards='open,shut'" in p for p in problems({"keep_alive": "2m", "expand_wildcards": "open,shut"})
    )
    assert any("query parameter keep_alive is required" in p for p in problems({}))


def test_responses_use_the_declared_exceptions_and_error_bodies(es_spec):
    get = es_spec.match("GET", "/i/_doc/1")
    assert es_spec.check_response(get, "GET", 404, {"_index": "i", "_id": "1", "found": False}) == []
    error = {"error": {"type": "index_not_found_exception", "reason": "no such index [i]", "index": "i"}, "status": 404}
    assert es_spec.check_response(get, "GET", 404, error) == []
    assert es_spec.check_response(get, "GET", 500, {"message": "oops"}) != []


def test_the_body_must_have_the_endpoints_media_type(es_spec):
    line = b'{"create": {"_index": "logs-a-b", "_id": "1"}}\n{"a": 1}\n'
    ndjson = "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
    assert es_spec.check_request("PUT", "/_bulk", {}, line, "9.0.0", ndjson)[1] == []
    (problem,) = es_spec.check_request("PUT", "/_bulk", {}, line, "9.0.0", "text/plain")[1]
    assert problem.endswith("Content-Type text/plain is not application/x-ndjson")
