"""Bulk writing against the real client and transport, with a scripted cluster on 127.0.0.1.

Covers: create with the event id as _id, duplicates within the write index (409)
and across a rollover (the data-stream gap), per-item 429 retries, per-item 400
to the dead letter (and replay), whole-request failures, credentials errors,
and request size bounds.
"""

from __future__ import annotations

import orjson
import pytest

from sentinel import ecs
from sentinel.store.base import StoreError
from sentinel.store.es_bulk import BulkLimits, BulkWriter, DeadLetter
from tests.store.es_sim import MiniCluster, Request, error_body

STREAM = "logs-sentinel.nginx.access-ha_noi"


def event(n: int, **extra: object) -> dict:
    eid = ecs.event_id("web01:/var/log/nginx/access.log", n, f"line {n}")
    doc = {
        "@timestamp": f"2026-07-01T08:00:{n % 60:02d}.000Z",
        "event": {"id": eid, "dataset": "nginx.access", "kind": "event", "original": f"GET /p/{n} HTTP/1.1"},
        "labels": {"province": "Hà Nội"},
        "source": {"ip": f"203.0.113.{n % 250}"},
    }
    doc.update(extra)
    return doc


def ids_in_stream(cluster: MiniCluster) -> list[str]:
    return [doc_id for _, doc_id in cluster.stream_docs(STREAM)]


def bulk_items(cluster: MiniCluster) -> list[list[str]]:
    """The _id of every create action, per _bulk request sent."""
    out = []
    for r in cluster.calls(path="/_bulk"):
        lines = [orjson.loads(x) for x in r.body.splitlines() if x.strip()]
        out.append([line["create"]["_id"] for line in lines[::2]])
    return out


def test_events_go_to_the_province_stream_with_event_id_as_id(sim, sim_store):
    events = [event(i) for i in range(5)]
    result = sim_store.append_events(events)
    assert result.stored_count == 5 and result.duplicates == 0
    assert sorted(ids_in_stream(sim.cluster)) == sorted(e["event"]["id"] for e in events)
    stored = sim.cluster.indices[sim.cluster.streams[STREAM][0]].docs[events[0]["event"]["id"]].source
    assert stored["data_stream"] == {"type": "logs", "dataset": "sentinel.nginx.access", "namespace": "ha_noi"}
    assert "data_stream" not in result.stored[0]  # callers get their event back unchanged


def test_second_append_is_all_duplicates(sim, sim_store):
    events = [event(i) for i in range(4)]
    sim_store.append_events(events)
    again = sim_store.append_events([*events, events[0]])
    assert again.stored_count == 0 and again.duplicates == 5
    assert len(ids_in_stream(sim.cluster)) == 4


def test_retry_after_rollover_does_not_duplicate(sim, sim_store):
    """The response to a bulk request is lost after it was applied, and the stream rolls over before the retry."""
    events = [event(i) for i in range(6)]

    def applied_then_lost(cluster: MiniCluster, req: Request) -> tuple[int, object]:
        cluster._bulk(req)
        cluster.rollover(STREAM)
        return 503, error_body(503, "unavailable_shards_exception", "primary shard is not active")

    sim.cluster.script("PUT", r"^/_bulk$", [applied_then_lost])
    result = sim_store.append_events(events)
    # all six were written by the first (lost) request; the retry found them in the old backing index
    assert result.stored_count == 0 and result.duplicates == 6 and result.dead_lettered == 0
    assert sorted(ids_in_stream(sim.cluster)) == sorted(e["event"]["id"] for e in events)
    assert len(sim.cluster.streams[STREAM]) == 2
    assert sim.cluster.calls("POST", f"/{STREAM}/_refresh"), "a retry after a failed request must refresh first"


def test_naive_resend_after_rollover_would_duplicate(sim, sim_client):
    """Control for the test above: op_type=create alone does not catch it (the _id check is per backing index)."""
    events = [event(i) for i in range(3)]
    ops = []
    for e in events:
        ops += [{"create": {"_index": STREAM, "_id": e["event"]["id"]}}, e]
    sim_client.bulk(operations=ops)
    sim.cluster.rollover(STREAM)
    resp = sim_client.bulk(operations=ops)
    assert [i["create"]["status"] for i in resp["items"]] == [201, 201, 201]
    assert len(ids_in_stream(sim.cluster)) == 6


def test_rejected_items_are_retried_alone(sim, sim_store):
    """A full write queue rejects single items with 429 while the rest of the request is written."""
    events = [event(i) for i in range(3)]
    sim.cluster.reject_items(1)  # the first item of the next bulk request
    result = sim_store.append_events(events)
    assert result.stored_count == 3 and result.dead_lettered == 0
    assert bulk_items(sim.cluster) == [[e["event"]["id"] for e in events], [events[0]["event"]["id"]]]
    # items refused with 429 were never written: no refresh/lookup is needed before resending them
    assert len(sim.cluster.calls("POST", "/_refresh")) == 1


def test_a_whole_request_refused_with_429_is_sent_again(sim, sim_store):
    """Indexing pressure or a circuit breaker can refuse the whole request (429): retried after a backoff."""
    busy = error_body(429, "es_rejected_execution_exception", "rejected execution of coordinating operation")
    sim.cluster.script("PUT", r"^/_bulk$", [(429, busy)])
    result = sim_store.append_events([event(i) for i in range(4)])
    assert result.stored_count == 4 and result.dead_lettered == 0
    assert len(sim.cluster.calls("PUT", "/_bulk")) == 2


def test_mapping_error_goes_to_dead_letter_and_replays(sim, sim_store):
    events = [event(i) for i in range(3)]
    bad = events[2]["event"]["id"]

    def mapping_error(cluster: MiniCluster, req: Request) -> tuple[int, object]:
        status, body = cluster._bulk(req)
        item = body["items"][2]["create"]
        backing = item["_index"]
        del cluster.indices[backing].docs[bad]
        body["errors"] = True
        body["items"][2] = {
            "create": {
                "_index": backing,
                "_id": bad,
                "status": 400,
                "error": {
                    "type": "document_parsing_exception",
                    "reason": "[1:42] failed to parse field [source.ip] of type [ip] in document with id '" + bad + "'",
                    "caused_by": {
                        "type": "illegal_argument_exception",
                        "reason": "'not-an-ip' is not an IP string literal.",
                    },
                },
            }
        }
        return status, body

    sim.cluster.script("PUT", r"^/_bulk$", [mapping_error])
    result = sim_store.append_events(events)
    assert result.stored_count == 2 and result.dead_lettered == 1
    [entry] = sim_store.dead_letter.entries()
    assert entry.event_id == bad and entry.status == 400 and entry.target == STREAM
    assert entry.error_type == "document_parsing_exception" and "not an IP string literal" in entry.reason
    assert entry.doc["event"]["id"] == bad and entry.attempts == 1

    replay = sim_store.replay_dead_letter()
    assert [d["event"]["id"] for d in replay.stored] == [bad] and replay.still_failing == 0
    assert "data_stream" not in replay.stored[0]
    assert sim_store.dead_letter.count() == 0
    assert sorted(ids_in_stream(sim.cluster)) == sorted(e["event"]["id"] for e in events)


def test_replay_failing_again_counts_attempts(sim, sim_store):
    e = event(1)
    refuse = {
        "create": {
            "_index": STREAM,
            "_id": e["event"]["id"],
            "status": 400,
            "error": {"type": "document_parsing_exception", "reason": "failed to parse field [@timestamp]"},
        }
    }
    sim.cluster.script("PUT", r"^/_bulk$", [(200, {"took": 1, "errors": True, "items": [refuse]})] * 2)
    assert sim_store.append_events([e]).dead_lettered == 1
    replay = sim_store.replay_dead_letter()
    assert replay.still_failing == 1 and replay.stored == []
    [entry] = sim_store.dead_letter.entries()
    assert entry.attempts == 2


def test_cluster_down_raises_so_the_caller_keeps_the_batch(sim, sim_store):
    unavailable = (503, error_body(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master]"))
    sim.cluster.script("PUT", r"^/_bulk$", [unavailable] * 10)
    with pytest.raises(StoreError, match="not taking events"):
        sim_store.append_events([event(1), event(2)])
    assert sim_store.dead_letter.count() == 0  # collectors keep the batch in their queue instead
    assert len(sim.cluster.calls("PUT", "/_bulk")) == 4  # 1 + max_retries, with backoff


def test_partial_outage_dead_letters_the_rest(sim, sim_client, tmp_path):
    """The first request is stored, then the cluster stops answering: the rest is kept, none is lost."""
    from sentinel.store.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore(
        sim_client,
        dead_letter=DeadLetter(tmp_path / "dead.sqlite"),
        limits=BulkLimits(chunk_docs=2, max_retries=2, initial_backoff=0.001, max_backoff=0.01),
    )
    events = [event(i) for i in range(4)]

    def first_ok(cluster: MiniCluster, req: Request) -> tuple[int, object]:
        cluster.script("PUT", r"^/_bulk$", [(503, error_body(503, "unavailable_shards_exception", "no primary"))] * 9)
        return cluster._bulk(req)

    sim.cluster.script("PUT", r"^/_bulk$", [first_ok])
    result = store.append_events(events)
    assert result.stored_count == 2 and result.dead_lettered == 2
    entries = store.dead_letter.entries()
    assert {e.error_type for e in entries} == {"retries_exhausted"}
    assert "ServiceUnavailableError" in entries[0].reason or "503" in entries[0].reason
    assert sorted(ids(result.stored) + [e.event_id for e in entries]) == sorted(ids(events))
    store.dead_letter.close()


def ids(events: list[dict]) -> list[str]:
    return [e["event"]["id"] for e in events]


def test_bad_credentials_stop_with_a_clear_error(sim, sim_store):
    sim.cluster.script("POST", r"/_refresh$", [(401, error_body(401, "security_exception", "unable to authenticate"))])
    with pytest.raises(StoreError, match="credentials"):
        sim_store.append_events([event(1)])


def test_requests_are_bounded_by_count_and_bytes(sim, sim_client, tmp_path):
    writer = BulkWriter(sim_client, BulkLimits(chunk_docs=50, chunk_bytes=8_000, initial_backoff=0.001))
    big = "x" * 1500
    docs = {}
    for i in range(120):
        e = event(i)
        e["event"]["original"] = big if i % 2 else "short"
        docs[e["event"]["id"]] = (STREAM, e)
    out = writer.write(docs)
    assert len(out.created) == 120 and not out.failed
    sizes = [len(r.body) for r in sim.cluster.calls(path="/_bulk")]
    counts = [len(b) for b in bulk_items(sim.cluster)]
    assert max(counts) <= 50 and sum(counts) == 120
    assert max(sizes) <= 8_000 + 2_000  # one document may overshoot the byte bound it triggers
    assert len(sizes) > 120 // 50


def test_store_refuses_to_write_before_setup(sim, sim_store):
    sim.cluster.objects["_index_template"].clear()
    with pytest.raises(StoreError, match="sentinel es setup"):
        sim_store.append_events([event(1)])


def test_dead_letter_file_survives_reopen(tmp_path):
    from sentinel.store.es_bulk import Failure

    path = tmp_path / "dl" / "dead.sqlite"
    dl = DeadLetter(path)
    dl.add([Failure("a1", STREAM, 400, "document_parsing_exception", "bad", {"event": {"id": "a1"}})])
    dl.close()
    again = DeadLetter(path)
    assert [(e.event_id, e.reason) for e in again.entries()] == [("a1", "bad")]
    again.close()


def test_dead_letter_cli_lists_and_replays(sim, tmp_path):
    from click.testing import CliRunner

    from sentinel.cli.main import cli
    from sentinel.store.es_bulk import Failure

    e = event(3)
    dl = DeadLetter(tmp_path / "es-dead-letter.sqlite")
    dl.add([Failure(e["event"]["id"], STREAM, 400, "document_parsing_exception", "failed to parse [source.ip]", e)])
    dl.close()
    env = {"SENTINEL_ES_URL": sim.url, "SENTINEL_DATA_DIR": str(tmp_path)}
    listed = CliRunner().invoke(cli, ["es", "dead-letter", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "1 event(s)" in listed.output and "failed to parse [source.ip]" in listed.output
    replayed = CliRunner().invoke(cli, ["es", "dead-letter", "replay", "--no-detect"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "read 1, stored 1, already present 0, still failing 0" in replayed.output
    assert ids_in_stream(sim.cluster) == [e["event"]["id"]]
    again = CliRunner().invoke(cli, ["es", "dead-letter", "list"], env=env)
    assert "0 event(s)" in again.output


def test_dead_letter_replay_goes_in_batches_and_shows_progress_on_a_terminal(sim, tmp_path):
    from sentinel.store.elasticsearch import REPLAY_BATCH
    from sentinel.store.es_bulk import Failure
    from tests.terminal import assert_progress_only_on_a_terminal, sentinel_env, three_ways

    events = [event(i) for i in range(REPLAY_BATCH + 200)]

    def refused() -> None:
        dl = DeadLetter(tmp_path / "es-dead-letter.sqlite")
        dl.add([Failure(e["event"]["id"], STREAM, 400, "document_parsing_exception", "bad", e) for e in events])
        dl.close()

    env = sentinel_env(tmp_path, SENTINEL_ES_URL=sim.url)
    seen = three_ways(["es", "dead-letter", "replay", "--no-detect"], env, tmp_path, prepare=refused)
    assert_progress_only_on_a_terminal(seen, "dead-letter replay", f"read {len(events):,}, ")
    assert f"stored {len(events):,}, already present 0" in seen.terminal  # the first run stores them all
    assert f"stored 0, already present {len(events):,}, still failing 0" in seen.piped  # the later ones find them
    assert sorted(ids_in_stream(sim.cluster)) == sorted(e["event"]["id"] for e in events)
    assert [len(ids) for ids in bulk_items(sim.cluster)] == [REPLAY_BATCH, 200]  # one bulk round per batch
