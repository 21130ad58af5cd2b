"""Walk an app's route table, through FastAPI's included routers, yielding (method, path)."""

import re

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

SAFE = {"GET", "HEAD", "OPTIONS"}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_SAMPLE = {"int": "1", "float": "1.0", "uuid": "00000000-0000-0000-0000-000000000000"}


def _routes(routes, prefix=""):
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI >= 0.16x keeps included routers as branches
            ctx = route.include_context
            yield from _routes(original.routes, prefix + (ctx.prefix or ""))
        elif isinstance(route, APIRoute | Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount) and route.routes:
            yield from _routes(route.routes, prefix + route.path)


def concrete(path: str) -> str:
    return _PARAM.sub(lambda m: _SAMPLE.get(m.group(2) or "", "x"), path)


def unsafe_routes(app):
    """Every (METHOD, concrete path, template path) that may change something."""
    out = set()
    for path, route in _routes(app.routes):
        for method in sorted((route.methods or set()) - SAFE):
            out.add((method, concrete(path), path))
    return sorted(out)
