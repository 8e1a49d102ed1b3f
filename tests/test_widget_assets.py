"""The widget's files: the embed script, the hashed bundle and the manifest."""

from __future__ import annotations

import hashlib
import re
import subprocess

from app.widget_assets import BUILD_DIR, manifest
from tests.support.processes import ROOT

HASHED = re.compile(r"^parley-(widget|loader)\.([0-9a-f]{12})\.js$")


def test_manifest_names_files_by_their_content_hash():
    """Each file in the manifest exists and its name carries its own hash."""
    entries = manifest()
    assert set(entries) == {"loader.js", "widget.js"}
    for name in entries.values():
        digest = HASHED.match(name).group(2)
        body = (BUILD_DIR / name).read_bytes()
        assert hashlib.sha256(body).hexdigest()[:12] == digest


def test_build_directory_holds_only_the_current_build():
    """No stale bundle is left beside the manifest's files."""
    on_disk = {path.name for path in BUILD_DIR.iterdir()}
    assert on_disk == {"manifest.json", *manifest().values()}


def test_loader_points_at_the_current_bundle():
    """The loader names the hashed bundle the manifest lists."""
    loader = (BUILD_DIR / manifest()["loader.js"]).read_text()
    assert f"widget/{manifest()['widget.js']}" in loader


def test_embed_script_is_briefly_cached_javascript(client):
    """/widget.js answers the loader as JavaScript, cached five minutes."""
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == (BUILD_DIR / manifest()["loader.js"]).read_bytes()


def test_embed_script_answers_not_modified_for_its_etag(client):
    """A revalidation with the current ETag gets 304 and no body."""
    etag = client.get("/widget.js").headers["ETag"]
    response = client.get("/widget.js", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""


def test_hashed_bundle_is_immutable(client):
    """The hashed bundle is served with a year-long immutable cache."""
    name = manifest()["widget.js"]
    response = client.get(f"/widget/{name}")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.get_data() == (BUILD_DIR / name).read_bytes()


def test_an_old_bundle_name_redirects_to_the_current_one(client):
    """A loader cached before a deploy still finds a working bundle."""
    response = client.get("/widget/parley-widget.000000000000.js")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/widget/{manifest()['widget.js']}")
    assert response.headers["Cache-Control"] == "no-cache"


def test_other_names_under_widget_are_not_found(client):
    """Only hashed widget names are served; nothing else in the tree leaks."""
    for name in ("manifest.json", "..%2Ffactory.py", "parley-widget.js"):
        assert client.get(f"/widget/{name}").status_code == 404


def test_widget_unit_tests_pass():
    """The widget's own unit tests (node's test runner) pass."""
    result = subprocess.run(
        ["node", "--test", "widget/test/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
