"""The FastAPI application of ``ganprint serve``.

Endpoints (all JSON unless said otherwise):

* ``POST /v1/predict``: multipart, field ``files`` (one part per image). Answers
  ``{"results": [record, ...]}``, one record per file in upload order, each exactly the JSON line
  ``ganprint predict`` prints for that file (``path`` is the upload's file name). Status 200 when
  every file was scored, 422 when any could not be (its record holds ``"error"``), as ``predict``
  exits 1.
* ``POST /v1/explain``: the same upload with one image; answers the heatmap overlay as
  ``image/png`` (422 with the error record when the file cannot be decoded).
* ``GET /v1/model``: the model card. ``GET /healthz``: liveness, never authenticated.
  ``GET /metrics``: Prometheus text. ``GET /``: the web page, with its script and style.

Refusals: 401 without the bearer token (when one is set), 413 for a body or file count over the
limits, 415 for a body that is not multipart, 400 for a malformed one, 503 with ``Retry-After``
when the queue is full. The model, loaded once, is copied into ``settings.replicas`` separate
objects, each used by its own worker thread only; requests reach them through the
:class:`~ganprint.serve.batcher.MicroBatcher`, which keeps up to one batch in flight per replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import PurePath
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ganprint.serve.batcher import MicroBatcher, QueueFull
from ganprint.serve.metrics import ServiceMetrics
from ganprint.serve.settings import ServeSettings
from ganprint.serve.uploads import UploadError, read_uploads
from ganprint.serve.worker import ModelWorker, NoHeatmaps

__all__ = ["create_app", "public_card"]

STATIC_FILES = {"index.html": "text/html; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
                "page.css": "text/css; charset=utf-8"}
_log = logging.getLogger("ganprint.serve")
_ENDPOINTS = {"/v1/predict": "predict", "/v1/explain": "explain", "/v1/model": "model", "/healthz": "healthz",
              "/metrics": "metrics", "/": "page"}
# the page loads nothing from anywhere but this service
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def create_app(model, settings: ServeSettings = ServeSettings(), *,  # noqa: B008 - frozen
               card: dict[str, Any] | None = None) -> FastAPI:
    """The service for ``model`` (any loaded ganprint model) under ``settings``; ``card`` is what
    ``GET /v1/model`` answers (:func:`ganprint.attribution.card.read_model_card` of its folder).

    ``model`` is the first replica; the other ``settings.replicas - 1`` are deep copies of it (the
    same weights in separate objects), so that no two threads ever share a model."""
    from ganprint.attribution.predict import SCORE_ROWS

    workers = [ModelWorker(model if i == 0 else copy.deepcopy(model), unknown=settings.unknown)
               for i in range(settings.replicas)]
    worker = workers[0]  # also the one that draws heatmaps (in its own thread)
    card = public_card(card) if card is not None else None
    metrics = ServiceMetrics()
    static = {name: (resources.files("ganprint.serve") / "static" / name).read_bytes() for name in STATIC_FILES}
    holder: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ganprint-model-{i}")
                     for i in range(len(workers))]
        try:
            batcher: MicroBatcher = MicroBatcher(
                [(w.predict, e) for w, e in zip(workers, executors, strict=True)], max_batch=settings.max_batch,
                max_wait_s=settings.max_wait_ms / 1000, capacity=settings.queue_size, quantum=SCORE_ROWS,
                on_batch=_batch_done)
            metrics.in_flight = lambda: batcher.admitted
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(e, w.warm_up) for w, e in zip(workers, executors, strict=True)))
            holder.update(batcher=batcher, executor=executors[0])
            batcher.start()
            try:
                yield
            finally:
                await batcher.stop()
        finally:
            for executor in executors:
                executor.shutdown(wait=True)
            holder.clear()

    def _batch_done(size: int, ok: bool) -> None:
        metrics.batch_size.observe(size)
        metrics.batches_failed += not ok

    app = FastAPI(title="ganprint", summary="Which generator made this image?", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)  # no CDN-hosted docs pages
    shortcuts: dict[tuple[str, str], Any] = {}
    app.add_middleware(_Shortcut, routes=shortcuts)
    app.add_middleware(_Timing, metrics=metrics)

    def _batcher() -> MicroBatcher:
        batcher = holder.get("batcher")
        if batcher is None:
            raise RuntimeError("the service is not running (its lifespan has not started)")
        return batcher

    def _authorised(request: Request) -> bool:
        if settings.token is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode())

    def _refusal(status: int, message: str, reason: str) -> JSONResponse:
        metrics.rejected[reason] += 1
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="ganprint"'
        if status == 503:
            headers["Retry-After"] = str(settings.retry_after_s)
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def _uploads(request: Request, max_files: int) -> list[tuple[str, bytes]]:
        return await read_uploads(request.stream(), request.headers.get("content-type"),
                                  request.headers.get("content-length"),
                                  max_bytes=settings.max_upload_bytes, max_files=max_files,
                                  timeout_s=settings.body_timeout_s)

    @app.post("/v1/predict")
    async def predict(request: Request) -> Response:
        if not _authorised(request):
            return _refusal(401, "missing or wrong bearer token", "auth")
        try:
            with _batcher().admit() as ticket:
                uploads = await _uploads(request, settings.max_files)
                records = await ticket.submit(uploads)
        except QueueFull:
            return _refusal(503, "the service is busy: retry later", "queue_full")
        except UploadError as exc:
            return _refusal(exc.status, exc.message, f"upload_{exc.status}")
        except Exception as exc:  # the model failed on this batch: this request fails, the service goes on
            _log.exception("scoring failed")
            return _refusal(500, f"scoring failed ({type(exc).__name__}); the server's log has the details",
                            "scoring_failed")
        failed = sum("error" in r for r in records)
        metrics.files["error"] += failed
        metrics.files["scored"] += len(records) - failed
        body = json.dumps({"results": records}).encode()
        return Response(body, status_code=422 if failed else 200, media_type="application/json")

    shortcuts["POST", "/v1/predict"] = predict

    @app.post("/v1/explain")
    async def explain(request: Request) -> Response:
        if not _authorised(request):
            return _refusal(401, "missing or wrong bearer token", "auth")
        batcher = _batcher()
        try:
            with batcher.admit() as ticket:
                (name, data), = await _uploads(request, 1)
                ticket.received()
                loop = asyncio.get_running_loop()
                record, png = await loop.run_in_executor(holder["executor"], worker.explain, name, data)
        except QueueFull:
            return _refusal(503, "the service is busy: retry later", "queue_full")
        except UploadError as exc:
            return _refusal(exc.status, exc.message, f"upload_{exc.status}")
        except NoHeatmaps as exc:
            return _refusal(501, str(exc), "no_heatmaps")
        except Exception as exc:
            _log.exception("explaining failed")
            return _refusal(500, f"explaining failed ({type(exc).__name__}); the server's log has the details",
                            "explain_failed")
        if png is None:
            metrics.files["error"] += 1
            return JSONResponse({"results": [record]}, status_code=422)
        metrics.files["scored"] += 1
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/v1/model")
    async def model_card(request: Request) -> Response:
        if not _authorised(request):
            return _refusal(401, "missing or wrong bearer token", "auth")
        if card is None:
            return JSONResponse({"error": "this service was started without a model card"}, status_code=404)
        return JSONResponse(card)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        running = holder.get("batcher") is not None
        return {"status": "ok" if running else "starting", "classes": worker.scorer.classes}

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        if not _authorised(request):
            return _refusal(401, "missing or wrong bearer token", "auth")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/")
    async def page() -> Response:
        return Response(static["index.html"], media_type=STATIC_FILES["index.html"], headers=_PAGE_HEADERS)

    @app.get("/static/{name}")
    async def static_file(name: str) -> Response:
        if name not in STATIC_FILES:  # a fixed set of names: nothing else is ever looked up
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(static[name], media_type=STATIC_FILES[name], headers=_PAGE_HEADERS)

    return app


def public_card(card: dict[str, Any]) -> dict[str, Any]:
    """The model card as the service shows it: folders on the server's disk (the model's, the
    training data's) cut to their last name, so that the card tells clients what the model is
    without telling them how the server's disk is laid out."""
    card = json.loads(json.dumps(card))  # a deep copy, JSON-ready
    for section in ("model", "training_data"):
        part = card.get(section)
        if isinstance(part, dict) and isinstance(part.get("path"), str):
            part["path"] = PurePath(part["path"]).name
    return card


class _Shortcut:
    """ASGI middleware: sends the requests of ``routes`` (``(method, path) -> handler(request)``)
    straight to their handler, past FastAPI's routing, dependency and exception layers. The hot
    endpoint's handler takes the raw request and returns a response, so those layers do nothing
    for it but cost a third of the service's time per request (measured: about 160 of 480 us
    on the load test's 28x28 PNGs). The handler is the one FastAPI also routes to."""

    def __init__(self, app, routes: dict[tuple[str, str], Any]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        handler = self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        response = await handler(Request(scope, receive))
        await response(scope, receive, send)


class _Timing:
    """ASGI middleware: every HTTP request's status and time from arrival to the last byte sent,
    counted in ``metrics`` under its endpoint (``other`` for any other path)."""

    def __init__(self, app, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def timed_send(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path = scope.get("path", "")
        endpoint = _ENDPOINTS.get(path, "static" if path.startswith("/static/") else "other")
        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.request(endpoint, status, time.perf_counter() - start)
