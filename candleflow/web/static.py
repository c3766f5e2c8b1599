"""The built chart frontend: `/` serves `frontend/dist/index.html`, plus every other page
and asset of the build.

Vite builds into `frontend/dist` (`make frontend`), which the wheel carries inside the
package (`candleflow.core.bundled`): a page per HTML file at the root (`index.html`,
`grid.html`, `tv.html`, each served under its file name and `grid.html` also at
`/grid`), hashed bundles under `assets/` (cached for a year, they never change under
the same name), a few files at the root (favicon and the like) and, for owners of
TradingView's Charting Library, the library under `charting_library/`. Whatever is
there at request time is served; without a build, `/` answers a short page saying how
to make one.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from candleflow.core.bundled import bundled
from candleflow.web import responses
from candleflow.web.errors import UdfError

#: The routes of this module's views (`candleflow.web.routes` gathers every module's).
ROUTES = web.RouteTableDef()

DIST = bundled("frontend")
ASSET_CACHE = "public, max-age=31536000, immutable"
#: The route of the files at the root of the build (`root_file`).
ROOT_FILE = r"/{name:[A-Za-z0-9_.\-]+\.(?:ico|svg|png|webmanifest|txt|js|css|map|woff2?)}"
MISSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>candleflow</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>candleflow</h1>
<p>The chart frontend has not been built: run <code>make frontend</code>
(or <code>npm ci &amp;&amp; npm run build</code> in <code>frontend/</code>) and reload.</p>
<p>The datafeed works without it: <a href="/udf/config">/udf/config</a>,
<a href="/openapi.json">/openapi.json</a>, <a href="/healthz">/healthz</a>.</p>
</body></html>
"""


def _file(root: Path, relative: str) -> Path:
    """`root/relative` if it is a file inside `root`, else 404."""
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents or not candidate.is_file():
        raise UdfError("not found", 404)
    return candidate


@ROUTES.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    """The chart page."""
    index_html = DIST / "index.html"
    if not index_html.is_file():
        return web.Response(text=MISSING_PAGE, content_type="text/html", headers={"Cache-Control": "no-cache"})
    return web.FileResponse(index_html, headers={"Cache-Control": responses.LIVE})


@ROUTES.get("/grid")
async def grid(request: web.Request) -> web.StreamResponse:
    """Several charts on one page (`?charts=<symbol>|<resolution>,…`), one stream connection."""
    return web.FileResponse(_file(DIST, "grid.html"), headers={"Cache-Control": responses.LIVE})


@ROUTES.get(r"/{name:[A-Za-z0-9_\-]+\.html}")
async def html_page(request: web.Request) -> web.StreamResponse:
    """Every page of the build under its file name: `/tv.html` (the Charting Library page),
    `/grid.html`, `/index.html`."""
    found = _file(DIST, request.match_info["name"])
    return web.FileResponse(found, headers={"Cache-Control": responses.LIVE})


@ROUTES.get("/charting-library.json")
async def charting_library_manifest(request: web.Request) -> web.StreamResponse:
    """Whether the build holds the Charting Library (`{"present": …}`): tv.html asks this
    rather than the library itself, whose absence would be a 404 in the console."""
    return web.FileResponse(_file(DIST, "charting-library.json"), headers={"Cache-Control": responses.LIVE})


@ROUTES.get("/charting_library/{path:.+}")
async def charting_library(request: web.Request) -> web.StreamResponse:
    """TradingView's Charting Library, when its owner dropped it into `frontend/charting_library/`."""
    found = _file(DIST / "charting_library", request.match_info["path"])
    return web.FileResponse(found, headers={"Cache-Control": responses.LIVE})


@ROUTES.get("/assets/{path:.+}")
async def assets(request: web.Request) -> web.StreamResponse:
    """Hashed bundles of the frontend build."""
    found = _file(DIST / "assets", request.match_info["path"])
    return web.FileResponse(found, headers={"Cache-Control": ASSET_CACHE})


@ROUTES.get(ROOT_FILE)
async def root_file(request: web.Request) -> web.StreamResponse:
    """Files Vite copies to the root of the build (favicon and the like)."""
    found = _file(DIST, request.match_info["name"])
    return web.FileResponse(found, headers={"Cache-Control": responses.LIVE})
