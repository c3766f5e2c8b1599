"""Maintenance tools an operator runs against the store: `db verify`, `replay` (rebuild) and `backfill`."""
