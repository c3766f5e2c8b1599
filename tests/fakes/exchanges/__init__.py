"""Local stand-ins for the exchanges' public market-data servers, one module per venue,
each written from that venue's public documentation (the addresses are in
docs/ingest.md): its websocket (subscribe replies, snapshots, heartbeats and pings,
error replies, scheduled disconnects) and the REST endpoints a source calls (instrument
list, trades). `base.FakeExchange` holds the market and the sockets; a venue module only
formats frames and answers requests. Everything listens on 127.0.0.1."""
