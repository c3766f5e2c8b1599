"""The bar engine of a worker.

`bar_engine` (the ledger-guarded batch), `tails` (the series tails it caches),
`reader` (its group consumer), `batching` (when a batch closes), `sink` (bar updates out).
"""
