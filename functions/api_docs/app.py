"""The API's documentation, served without a token: the OpenAPI document and Swagger UI.

`openapi.json` here is a copy of the checked-in docs/openapi.json written by `make openapi` (SAM packages
only this folder). Swagger UI's files come from the npm package swagger-ui-dist: `make swagger-assets`
puts them in static/ (git-ignored), which must happen before `sam build`. So the page loads nothing from a
CDN, and every URL in it is relative, so it works under any base path.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from parley import tracing
from parley.api import responses

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
JAVASCRIPT = "text/javascript; charset=utf-8"
# The files the page may load, and where each comes from: only these names are ever read from disk.
ASSETS = {
    "swagger-ui.css": (STATIC, "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (STATIC, JAVASCRIPT),
    "swagger-ui-standalone-preset.js": (STATIC, JAVASCRIPT),
    "swagger-init.js": (HERE, JAVASCRIPT),
}
# Scripts and styles only from this API (Swagger UI sets inline styles; its logo is a data: URL).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>parley API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script src="docs/swagger-init.js"></script>
</body>
</html>
"""

app = APIGatewayHttpResolver()


def _detail(status: int, detail: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"detail": detail})


_cache: dict[Path, str] = {}


def _read(folder: Path, name: str) -> str | None:
    """A file's text, kept for the life of the instance once found (a missing one is looked for again)."""
    path = folder / name
    if path not in _cache and path.is_file():
        _cache[path] = path.read_text(encoding="utf-8")
    return _cache.get(path)


@app.get(
    "/api/openapi.json",
    compress=True,
    cache_control="no-cache",
    summary="This OpenAPI document",
    tags=["documentation"],
    operation_id="openapi_document",
    responses=responses(200, "The OpenAPI 3.1 document.", media=(content_types.APPLICATION_JSON,), public=True),
)
def openapi_document():
    document = _read(HERE, "openapi.json")
    if document is None:
        return _detail(503, "The OpenAPI document is missing from this deployment; run make openapi.")
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@app.get(
    "/api/docs",
    cache_control="no-cache",
    summary="Swagger UI",
    tags=["documentation"],
    operation_id="swagger_ui",
    responses=responses(200, "An HTML page that reads /api/openapi.json.", media=("text/html",), public=True),
)
def swagger_ui():
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=PAGE, headers=SECURITY_HEADERS)


def _gzipped(folder: Path, name: str, text: str) -> bytes:
    """Compressed once per instance: gzip of the 1.7 MB bundle costs far more than serving it."""
    key = folder / f"{name}.gz"
    if key not in _zipped:
        _zipped[key] = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    return _zipped[key]


_zipped: dict[Path, bytes] = {}


@app.get(
    "/api/docs/<asset>",
    cache_control="public, max-age=3600",
    summary="Swagger UI's scripts and styles",
    tags=["documentation"],
    operation_id="swagger_asset",
    responses=responses(200, "The file.", media=("text/css", "text/javascript"), errors=(404,), public=True),
)
def swagger_asset(asset: str):
    if asset not in ASSETS:
        return _detail(404, "Not found.")
    folder, content_type = ASSETS[asset]
    text = _read(folder, asset)
    if text is None:
        return _detail(503, "Swagger UI's files are missing from this deployment; run make swagger-assets.")
    headers = {"X-Content-Type-Options": "nosniff", "Vary": "Accept-Encoding"}
    if "gzip" in (app.current_event.headers.get("accept-encoding") or ""):
        headers["Content-Encoding"] = "gzip"  # bytes: Powertools sends them base64-encoded, as API Gateway needs
        return Response(status_code=200, content_type=content_type, body=_gzipped(folder, asset, text), headers=headers)
    return Response(status_code=200, content_type=content_type, body=text, headers=headers)


@app.not_found
def not_found(_):
    return _detail(404, "Not found.")


@tracing.handler
def lambda_handler(event: dict, context) -> dict:
    return app.resolve(event, context)
