"""The engine service: an HTTP API over the engine (open, prepare jobs, query, cluster, extract)."""
