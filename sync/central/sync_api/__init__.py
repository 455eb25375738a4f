"""The central's sync module: the API terminals talk to (push, pull, heartbeat, enrolment), its tables and migrations.

:mod:`.router` (the FastAPI router), :mod:`.schema` (its tables), :mod:`.migrations` (its
migration set).  The storage the router calls (:mod:`sync.central.storage`, :mod:`~sync.central.events`,
:mod:`~sync.central.reference`) is shared with ``linfen central``'s enrol, revoke and import.
Named ``sync_api``, not ``sync``, so that it never reads as the top-level ``sync`` package.
"""
