"""Adapters to the outside world: Airtable (pyairtable) and Google Drive (google-api-python-client),
each behind a small Protocol. `routing.ams_for` is the one place that picks where a client's AMS
writes go (the built-in sandbox for test keys, the configured real accounts for live keys).

The adapters are synchronous, like the libraries under them: callers run them in worker threads
(`asyncio.to_thread`). Each adapter keeps one underlying client per thread, so a single adapter
object may be shared by many threads."""
