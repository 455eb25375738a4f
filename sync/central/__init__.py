"""The central service: one FastAPI router, its tables and its migrations per module, over SQLAlchemy Core storage.

Modules (:mod:`.modules`): the sync API (:mod:`.sync_api`: router, schema, migration set) today;
the Time Bank, alerts, reports and canteen join the same way.  Around them: :mod:`.app` (the
FastAPI factory that includes every module's router), :mod:`.ops` (``/health``, ``/metrics``),
:mod:`.deps` (authentication dependencies shared by routers), :mod:`.migrations` (per-module
migration sets, each with its own bookkeeping), :mod:`.storage` (the store facade), :mod:`.events`
(exactly-once push), :mod:`.reference` (change feed), :mod:`.importer` (CSV/JSON import),
:mod:`.auth` (tokens), :mod:`.ratelimit` (per-terminal push limit), :mod:`.metrics`, :mod:`.server` (uvicorn, SIGTERM), :mod:`.cli`
(``linfen central``).  Start one in-process with :func:`.server.start_central`.  Nothing here
imports ``kiosk``.  What enters is strict JSON (:mod:`sync.strict_json`, checked in
:mod:`.middleware`) and passes the PII gate (:mod:`sync.pii`, on push and import).
"""
