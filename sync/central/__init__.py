"""The central service: sync API over SQLAlchemy Core storage (SQLite by default, or PostgreSQL).

Modules: :mod:`.app` (FastAPI factory), :mod:`.storage` (the store facade), :mod:`.events`
(exactly-once push), :mod:`.reference` (change feed), :mod:`.importer` (CSV/JSON import),
:mod:`.auth` (tokens), :mod:`.migrations`, :mod:`.metrics`, :mod:`.server` (uvicorn, SIGTERM),
:mod:`.cli` (``linfen central``).  Start one in-process with :func:`.server.start_central`.
"""
