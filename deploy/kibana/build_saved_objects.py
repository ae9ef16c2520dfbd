"""Writes sentinel-saved-objects.ndjson: Sentinel's Kibana data views and SOC dashboard.

Run from the repository root after changing it (a test checks the committed file matches):

    python deploy/kibana/build_saved_objects.py

Import with Kibana's saved objects API (the compose file does this):

    curl -X POST 'https://kibana:5601/api/saved_objects/_import?overwrite=true' \
         -H 'kbn-xsrf: true' --form file=@deploy/kibana/sentinel-saved-objects.ndjson

Visualisations use the aggregation-based format, which every Kibana 8.x/9.x
imports and migrates; ids are fixed so re-importing updates in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sentinel.store.es_templates import ALERTS_ALIAS, EVENTS_PATTERN

OUT = Path(__file__).with_name("sentinel-saved-objects.ndjson")
EVENTS_VIEW = "sentinel-events"
ALERTS_VIEW = "sentinel-alerts"
SEARCH_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def data_view(view_id: str, title: str, name: str) -> dict[str, Any]:
    return {
        "type": "index-pattern",
        "id": view_id,
        "attributes": {"title": title, "name": name, "timeFieldName": "@timestamp"},
        "references": [],
    }


def _search_source(query: str) -> str:
    return json.dumps({"query": {"language": "kuery", "query": query}, "filter": [], "indexRefName": SEARCH_REF})


def _count() -> dict[str, Any]:
    return {"id": "1", "enabled": True, "type": "count", "params": {}, "schema": "metric"}


def _terms(agg_id: str, field: str, size: int, schema: str) -> dict[str, Any]:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "terms",
        "schema": schema,
        "params": {"field": field, "size": size, "order": "desc", "orderBy": "1", "otherBucket": True},
    }


def _over_time(agg_id: str) -> dict[str, Any]:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": {}},
    }


HISTOGRAM_PARAMS = {
    "type": "histogram",
    "addTooltip": True,
    "addLegend": True,
    "legendPosition": "right",
    "times": [],
    "addTimeMarker": False,
    "categoryAxes": [
        {
            "id": "CategoryAxis-1",
            "type": "category",
            "position": "bottom",
            "show": True,
            "scale": {"type": "linear"},
            "labels": {"show": True, "filter": True, "truncate": 100},
            "title": {},
        }
    ],
    "valueAxes": [
        {
            "id": "ValueAxis-1",
            "name": "LeftAxis-1",
            "type": "value",
            "position": "left",
            "show": True,
            "scale": {"type": "linear", "mode": "normal"},
            "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
            "title": {"text": "Count"},
        }
    ],
    "seriesParams": [
        {
            "show": True,
            "type": "histogram",
            "mode": "stacked",
            "data": {"label": "Count", "id": "1"},
            "valueAxis": "ValueAxis-1",
            "drawLinesBetweenPoints": True,
            "showCircles": True,
        }
    ],
}
TABLE_PARAMS = {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": False}
PIE_PARAMS = {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True}


def visualization(
    vis_id: str, title: str, view: str, vis_type: str, params: dict, aggs: list[dict], query: str = ""
) -> dict[str, Any]:
    state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    return {
        "type": "visualization",
        "id": vis_id,
        "attributes": {
            "title": title,
            "description": "",
            "version": 1,
            "uiStateJSON": "{}",
            "visState": json.dumps(state),
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)},
        },
        "references": [{"name": SEARCH_REF, "type": "index-pattern", "id": view}],
    }


def saved_search(search_id: str, title: str, view: str, query: str, columns: list[str]) -> dict[str, Any]:
    return {
        "type": "search",
        "id": search_id,
        "attributes": {
            "title": title,
            "description": "",
            "columns": columns,
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": _search_source(query)},
        },
        "references": [{"name": SEARCH_REF, "type": "index-pattern", "id": view}],
    }


def dashboard(dash_id: str, title: str, panels: list[tuple[str, str, int, int, int, int]]) -> dict[str, Any]:
    """``panels``: (type, id, x, y, w, h) on Kibana's 48-column grid."""
    panel_json = []
    refs = []
    for i, (ptype, pid, x, y, w, h) in enumerate(panels):
        panel_json.append(
            {
                "version": "8.0.0",
                "type": ptype,
                "panelIndex": str(i + 1),
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i + 1)},
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{i}",
            }
        )
        refs.append({"name": f"panel_{i}", "type": ptype, "id": pid})
    return {
        "type": "dashboard",
        "id": dash_id,
        "attributes": {
            "title": title,
            "description": "24/7 SOC overview for the National Public Service Portal: traffic, sources, alerts.",
            "panelsJSON": json.dumps(panel_json),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"language": "kuery", "query": ""}, "filter": []})
            },
        },
        "references": refs,
    }


def build() -> list[dict[str, Any]]:
    """Every saved object, dependencies first."""
    ev, al = EVENTS_VIEW, ALERTS_VIEW
    objects = [
        data_view(ev, EVENTS_PATTERN, "Sentinel events"),
        data_view(al, ALERTS_ALIAS, "Sentinel alerts"),
        visualization(
            "sentinel-events-over-time",
            "Events over time by dataset",
            ev,
            "histogram",
            HISTOGRAM_PARAMS,
            [_count(), _over_time("2"), _terms("3", "event.dataset", 10, "group")],
        ),
        visualization(
            "sentinel-top-sources",
            "Top source IPs",
            ev,
            "table",
            TABLE_PARAMS,
            [_count(), _terms("2", "source.ip", 20, "bucket")],
        ),
        visualization(
            "sentinel-http-status",
            "HTTP responses by status",
            ev,
            "pie",
            PIE_PARAMS,
            [_count(), _terms("2", "http.response.status_code", 10, "segment")],
            "http.response.status_code:*",
        ),
        visualization(
            "sentinel-provinces",
            "Events by province",
            ev,
            "table",
            TABLE_PARAMS,
            [_count(), _terms("2", "labels.province", 34, "bucket")],
        ),
        visualization(
            "sentinel-open-alerts-severity",
            "Open alerts by severity",
            al,
            "pie",
            PIE_PARAMS,
            [_count(), _terms("2", "severity", 5, "segment")],
            "status:open or status:acknowledged",
        ),
        visualization(
            "sentinel-alerts-over-time",
            "Alerts over time by rule",
            al,
            "histogram",
            HISTOGRAM_PARAMS,
            [_count(), _over_time("2"), _terms("3", "rule.id", 10, "group")],
        ),
        saved_search(
            "sentinel-pipeline-errors",
            "Unparsed input (pipeline errors)",
            ev,
            "event.kind:pipeline_error",
            ["event.dataset", "log.file.path", "error.message"],
        ),
        saved_search(
            "sentinel-open-alerts",
            "Open alerts",
            al,
            "not status:closed",
            ["severity", "rule.title", "group_key", "count", "assignee", "status"],
        ),
    ]
    objects.append(
        dashboard(
            "sentinel-soc-overview",
            "Sentinel SOC overview",
            [
                ("visualization", "sentinel-events-over-time", 0, 0, 32, 12),
                ("visualization", "sentinel-open-alerts-severity", 32, 0, 16, 12),
                ("visualization", "sentinel-alerts-over-time", 0, 12, 32, 12),
                ("visualization", "sentinel-http-status", 32, 12, 16, 12),
                ("visualization", "sentinel-top-sources", 0, 24, 24, 15),
                ("visualization", "sentinel-provinces", 24, 24, 24, 15),
                ("search", "sentinel-open-alerts", 0, 39, 48, 15),
                ("search", "sentinel-pipeline-errors", 0, 54, 48, 12),
            ],
        )
    )
    return objects


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in build())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {len(build())} saved objects to {OUT}")
