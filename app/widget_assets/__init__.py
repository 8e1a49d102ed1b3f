"""Serve the visitor widget: the embed script and its content-hashed bundle.

``GET /widget.js`` is what the one-tag embed loads. It is a tiny loader,
cached for five minutes, that loads ``/widget/parley-widget.<hash>.js``,
which never changes under its name and is cached for a year. A deploy thus
reaches every visitor within five minutes, and a returning visitor
downloads the bundle once per release. The files are built from ``widget/``
into ``app/static/widget/`` and committed, so operators never need Node.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, request, url_for

logger = logging.getLogger(__name__)

bp = Blueprint("widget_assets", __name__)

BUILD_DIR = Path(__file__).resolve().parents[1] / "static" / "widget"
HASHED_NAME = re.compile(r"^parley-(?:widget|loader)\.([0-9a-f]{12})\.js$")
LOADER_MAX_AGE = 300
IMMUTABLE = "public, max-age=31536000, immutable"


def manifest(build_dir: Path = BUILD_DIR) -> dict[str, str]:
    """Return the build's manifest: logical name to hashed file name."""
    return json.loads((build_dir / "manifest.json").read_text())


def _script(body: bytes, etag: str, cache_control: str) -> Response:
    """Answer with a script any website may load, conditional on its ETag."""
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = cache_control
    # The widget runs on other companies' sites: allow cross-origin loading
    # (with or without `crossorigin`), also from pages that set COEP.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    return response.make_conditional(request)


@bp.get("/widget.js")
def loader() -> Response:
    """Serve the embed script: the loader of the current bundle."""
    name = manifest()["loader.js"]
    body = (BUILD_DIR / name).read_bytes()
    return _script(body, name, f"public, max-age={LOADER_MAX_AGE}")


@bp.get("/widget/<name>")
def bundle(name: str) -> Response:
    """Serve a hashed widget file, immutable; send old hashes to the current."""
    if not HASHED_NAME.match(name):
        abort(404)
    current = manifest()
    if name in current.values():
        body = (BUILD_DIR / name).read_bytes()
        return _script(body, name, IMMUTABLE)
    # A loader cached before a deploy still names the old bundle.
    logger.info("Widget file %s is gone; redirecting to the current one", name)
    kind = "loader.js" if name.startswith("parley-loader.") else "widget.js"
    response = redirect(url_for(".bundle", name=current[kind]), code=302)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
