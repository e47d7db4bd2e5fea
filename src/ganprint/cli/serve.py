"""``ganprint serve``: the model behind an HTTP API and a web page (thin wrapper over :mod:`ganprint.serve`)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import click

from ganprint.cli import options as opts
from ganprint.cli.common import fail, open_model, say, set_threads, warn

_SETTINGS = "ganprint.serve.settings:ServeSettings"
MAX_DEFAULT_REPLICAS = 16


def _setting_option(field: str, kind: click.ParamType, help: str, flag: str | None = None):  # noqa: A002
    """``--field-name`` (or ``flag``), defaulting to (and showing) the default of
    :class:`~ganprint.serve.settings.ServeSettings`'s ``field``."""
    return click.option(flag or "--" + field.replace("_", "-"), field, cls=opts.Option, type=kind, show_default=True,
                        default=opts.ConfigDefault(_SETTINGS, field), help=help)


@click.command("serve")
@opts.model_dir_option()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default answers this machine only; anything else should come "
                   "with --token-file.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="File holding a bearer token: every API call must then send 'Authorization: Bearer TOKEN' "
                   "(401 otherwise). /healthz and the page itself stay open.")
@_setting_option("max_batch", click.IntRange(min=1),
                 "Most images per model call; concurrent requests are gathered up to it.")
@_setting_option("max_wait_ms", click.FloatRange(min=0),
                 "Longest wait for more requests to fill a batch (only while others are still arriving).")
@_setting_option("queue_size", click.IntRange(min=1),
                 "Most requests admitted at once; more are answered 503 with Retry-After.")
@_setting_option("max_upload_bytes", click.IntRange(min=1), "Largest request body (413 above it).")
@_setting_option("max_files", click.IntRange(min=1), "Most images per request (413 above it).")
@_setting_option("body_timeout_s", click.FloatRange(min=0, min_open=True),
                 "Seconds a request body may take to arrive (408 after them).", flag="--body-timeout")
@click.option("--replicas", type=click.IntRange(min=1), default=None,
              help="Copies of the model, each scoring its own batch in its own thread [default: one per CPU, "
                   f"at most {MAX_DEFAULT_REPLICAS}]. Without --threads, PyTorch gets CPUs / replicas threads.")
@click.option("--no-unknown", is_flag=True, help="Always answer a known source, never 'unknown' (as predict's).")
@click.option("--access-log", is_flag=True, help="Log every request on stderr (costs throughput).")
@opts.device_option
@opts.threads_option
def serve_cmd(model_dir: Path, host: str, port: int, token_file: Path | None, max_batch: int, max_wait_ms: float,
              queue_size: int, max_upload_bytes: int, max_files: int, body_timeout_s: float, replicas: int | None,
              no_unknown: bool, access_log: bool, device: str, threads: int | None) -> None:
    """Serve a model over HTTP: POST /v1/predict and /v1/explain, GET /v1/model, /healthz, /metrics,
    and a web page at / to drop images on.

    Each image gets exactly the record `ganprint predict` prints for it. Concurrent requests are
    scored together in batches; the model is loaded once. Stop with Ctrl-C.
    """
    import uvicorn

    from ganprint.attribution.card import read_model_card
    from ganprint.serve import ServeSettings, create_app

    token = _read_token(token_file) if token_file is not None else None
    if token is None and not _is_loopback(host):
        warn(f"listening on {host} without --token-file: anyone who can reach this port can use the model")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if replicas is None:
        replicas = min(cpus, MAX_DEFAULT_REPLICAS)
    # torch's intra-op threads are process-wide: replicas x threads ~ CPUs
    set_threads(threads if threads else max(1, cpus // replicas))
    model = open_model(model_dir, device)
    try:
        card = read_model_card(model_dir)
    except (ValueError, FileNotFoundError) as exc:
        warn(f"no model card: {exc}")
        card = None
    try:
        settings = ServeSettings(max_batch=max_batch, max_wait_ms=max_wait_ms, queue_size=queue_size,
                                 max_upload_bytes=max_upload_bytes, max_files=max_files,
                                 body_timeout_s=body_timeout_s, token=token,
                                 unknown=not no_unknown, replicas=replicas)
    except ValueError as exc:
        fail(str(exc))
    app = create_app(model, settings, card=card)
    say(f"ganprint serve: {model_dir} ({', '.join(str(c) for c in model.classes_)}) on http://{_url_host(host)}:{port}/"
        + (" (bearer token required)" if token else ""), quiet=False)
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info" if access_log else "warning",
                server_header=False, timeout_graceful_shutdown=5)


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--token-file {path}: {exc}")
    if not token or any(ch.isspace() for ch in token) or not token.isprintable():
        fail(f"--token-file {path} must hold one token: printable characters, no spaces")
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
