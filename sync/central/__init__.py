"""The central service: sync API, storage, volunteers, alerts, reports."""
