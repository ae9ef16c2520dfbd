"""The ingest spine: events from any source through enrichment, protection, the store and detection.

``collect`` produces events (sources and parsers); this package decides what happens to them:
:class:`Pipeline` (transform -> store -> detect), :func:`build_pipeline` (the one configured
assembly), the durable :class:`DiskQueue`, sinks, and the collector :class:`Runner`.
"""
