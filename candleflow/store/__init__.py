"""PostgreSQL: how a process reaches it (`connection`: the typed connection protocols,
`connect`, the capability probe; `database`: the `Database` that lends connections for
a statement or a transaction), the migrations, and every SQL statement of candleflow."""
