"""The UI's pages: one HTML shell per page, whose script (static/app.js) draws it from the JSON API.
Plotly's JavaScript is served from the plotly package itself, so nothing comes from a CDN and
the UI works offline.

    /                                 experiments
    /runs?experiment_ids=0,1          the runs table
    /runs/{run_id}                    a run
    /charts?run_ids=a,b[&keys=loss]   metric charts
    /compare?run_ids=a,b              runs compared
    /models                           the registry
    /models/{name}                    a model: versions, aliases, tags, audit log, as-of
    /models/{name}/versions/{version} a version's lineage
    /monitors, /monitors/view?table=T monitors, and one's drift over time
    /feature-tables, /feature-tables/view?name=N
                                      feature tables, and one's schema, versions and models
    /lineage/predictions?table=PATH   a prediction table's batches, each to its model version
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "experiments", "/runs": "runs", "/runs/{run_id}": "run", "/charts": "charts", "/compare": "compare",
         "/models": "models", "/models/{name}": "model", "/models/{name}/versions/{version}": "version",
         "/monitors": "monitors", "/monitors/view": "monitor", "/feature-tables": "feature_tables",
         "/feature-tables/view": "feature_table", "/lineage/predictions": "predictions"}
_TITLES = {"experiments": "Experiments", "runs": "Runs", "run": "Run", "charts": "Charts", "compare": "Compare runs",
           "models": "Registry", "model": "Model", "version": "Model version", "monitors": "Monitors",
           "monitor": "Monitor", "feature_tables": "Feature tables", "feature_table": "Feature table",
           "predictions": "Prediction lineage"}


def routes() -> list:
    from starlette.routing import Route

    def page(name: str):  # noqa: ANN202 - a Starlette endpoint
        async def endpoint(request: Request) -> Response:
            return _shell(name, dict(request.path_params))
        return endpoint

    return [*(Route(path, page(name), methods=["GET"]) for path, name in PAGES.items()),
            Route("/static/{file}", _static, methods=["GET"])]


def _shell(name: str, params: dict[str, str]) -> Response:
    from starlette.responses import HTMLResponse

    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_TITLES[name]} · sparktrack</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/style.css">
<script src="/static/plotly.min.js"></script>
<script src="/static/app.js" defer></script></head>
<body data-page="{name}" data-params="{html.escape(json.dumps(params))}">
<nav><a href="/" class="brand">sparktrack</a> <a href="/">Experiments</a> <a href="/models">Registry</a>
<a href="/monitors">Monitors</a> <a href="/feature-tables">Feature tables</a>
<a href="/lineage/predictions">Prediction lineage</a></nav>
<main id="main"><p class="loading">Loading…</p></main>
<pre id="error" class="error" hidden></pre>
</body></html>"""
    return HTMLResponse(body, headers={"content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                                  "script-src 'self' 'unsafe-eval'; img-src 'self' data: blob:"})


def error_page(status: int, message: str) -> Response:
    """A readable page for a request a browser made to no page."""
    from starlette.responses import HTMLResponse

    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} · sparktrack</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/style.css"></head>
<body><nav><a href="/" class="brand">sparktrack</a> <a href="/">Experiments</a> <a href="/models">Registry</a></nav>
<pre id="error" class="error">{status}: {html.escape(message)}</pre></body></html>""", status)


async def _static(request: Request) -> Response:
    from starlette.responses import FileResponse

    from sparktrack.ui.api import ApiError

    name = request.path_params["file"]
    if name == "plotly.min.js":
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js",
                            media_type="text/javascript", headers={"cache-control": "max-age=86400"})
    found = STATIC / name
    if name not in {p.name for p in STATIC.iterdir()}:  # only the files shipped here, by name
        return ApiError(404, "ENDPOINT_NOT_FOUND", f"No static file {name!r}.").response()
    kind = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(found, media_type=kind)
