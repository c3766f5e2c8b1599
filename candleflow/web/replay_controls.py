"""The controls of a running replay, without reconnecting:

    POST /udf/replay/<replay>/pause
    POST /udf/replay/<replay>/resume
    POST /udf/replay/<replay>/speed?speed=<1-10000|max>
    POST /udf/replay/<replay>/step          (to the close of the current bar, then paused)
    POST /udf/replay/<replay>/jump?to=<unix s>   (later than the replay clock)

`<replay>` is the id of the stream's `hello`. Each answers the clock after the control,
`{"s": "ok", "clock_ms", "speed", "paused"}`, and the stream says it with a `clock`
event; an id no running replay of this process has is 404 `unknown_replay`, a control
that cannot apply (a jump backwards) 400. `CONTROLS` declares each action once: its
parameters and what it does; the routes and `/openapi.json` are made from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from aiohttp import web

from candleflow.replay.clock import ClockError
from candleflow.replay.session import Replay
from candleflow.web import responses
from candleflow.web.context import context
from candleflow.web.errors import UdfError
from candleflow.web.params import MAX_TIME, Param, Query, Values
from candleflow.web.replay import SPEED, parse_speed

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

#: The `errmsg` of a replay id no running replay has.
UNKNOWN_REPLAY = "unknown_replay"

NONE = Query()
SPEED_QUERY = Query(dataclasses.replace(SPEED, required=True))
JUMP = Query(
    Param(
        "to",
        "Where to go, unix seconds: every tick before it is replayed at once, then the replay goes on as before",
        type="integer",
        required=True,
        minimum=0,
        maximum=MAX_TIME,
    )
)

Control = Callable[[Replay, Values], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: action -> (its parameters, what it does)
CONTROLS: dict[str, tuple[Query, Control]] = {
    "pause": (NONE, lambda replay, _: replay.pause()),
    "resume": (NONE, lambda replay, _: replay.resume()),
    "speed": (SPEED_QUERY, lambda replay, q: replay.set_speed(parse_speed(q.text("speed")))),
    "step": (NONE, lambda replay, _: replay.step()),
    "jump": (JUMP, lambda replay, q: replay.jump(q.integer("to", 0) * 1000)),
}


def path(action: str) -> str:
    return f"/udf/replay/{{replay}}/{action}"


def _replay(request: web.Request) -> Replay:
    found = context(request).replays.get(request.match_info["replay"])
    if found is None:
        raise UdfError(UNKNOWN_REPLAY, 404)
    return found


def _control(query: Query, apply: Control) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        replay = _replay(request)
        values = query.read(request.query)
        try:
            apply(replay, values)
        except ClockError as exc:
            raise UdfError(str(exc)) from None
        state = replay.clock.state()
        return responses.json(
            {"s": "ok", "clock_ms": state.position, "speed": state.speed, "paused": state.paused},
            cache=responses.NO_STORE,
        )

    return handle


for _action, (_query, _apply) in CONTROLS.items():
    ROUTES.post(path(_action))(_control(_query, _apply))
