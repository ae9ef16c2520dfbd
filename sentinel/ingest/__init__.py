"""The ingest spine: events from any source through enrichment, protection, the store and detection.

``collect`` produces events (sources and parsers); this package decides what happens to them:
:class:`Pipeline` (transform -> store -> detect), :func:`build_pipeline` (the one configured
assembly), the durable :class:`DiskQueue`, sinks, and the collector :class:`Runner`.
"""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "CollectorFile": "definitions",
    "HttpOutput": "definitions",
    "HttpSink": "sinks",
    "IngestCounts": "pipeline",
    "MakeReady": "ready",
    "Pipeline": "pipeline",
    "RunOptions": "collector",
    "RunStats": "collector",
    "Sink": "sinks",
    "StoreSink": "sinks",
    "build_pipeline": "assemble",
    "collector_dir": "collector",
    "default_workers": "workers",
    "edge_stages": "assemble",
    "ingest_streams": "stream",
    "iter_lines": "stream",
    "load_collector": "definitions",
    "run_sources": "collector",
    "status_dir": "collector",
    "TransformWorkers": "workers",
    "worker_count": "workers",
    "WriterProcess": "writer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
