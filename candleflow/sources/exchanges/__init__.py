"""One module per venue and direction: `<venue>.py` is the websocket protocol (frames in
and out, no I/O), `<venue>_rest.py` the REST calls (instrument list, trades)."""
