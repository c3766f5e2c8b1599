"""Who may read what: signed access tokens, the grants they carry, and per-client limits.

Pure logic with no I/O: the web layer (`candleflow.web.guard`) asks it whether a request
may go on, `candleflow token issue` uses it to make tokens.
"""
