"""Settings of the web service, validated once when they are built."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServeSettings"]


@dataclass(frozen=True)
class ServeSettings:
    """What a running service may accept and how it batches.

    Attributes:
        max_batch: Most images scored in one model call; concurrent requests are gathered up to it.
        max_wait_ms: Longest time the batcher waits for more requests to fill a batch once one has
            arrived. It only waits while other requests are still being received, so a lone request
            on an idle service is scored at once.
        queue_size: Most requests admitted at once (being received, waiting or being scored); one
            more is answered 503 with ``Retry-After`` instead of growing the queue.
        max_upload_bytes: Largest request body; a larger one is answered 413 (checked from
            ``Content-Length`` before reading, and again while the body streams in).
        max_files: Most images in one request (413 above it).
        body_timeout_s: Longest time a request body may take to arrive (408 after it).
        token: The bearer token every API call must carry, or None for no authentication.
        unknown: Answer ``"unknown"`` below the model's calibrated threshold (``predict``'s default;
            ``predict --no-unknown`` is ``unknown=False``).
        retry_after_s: The ``Retry-After`` a 503 suggests, in seconds.
        replicas: Copies of the model, each with its own worker thread: up to this many batches are
            scored at once. Each is a separate model object (a model is only ever used by its own
            thread: heatmaps and feature views register forward hooks on its modules).
    """

    max_batch: int = 64
    max_wait_ms: float = 2.0
    queue_size: int = 256
    max_upload_bytes: int = 32 * 2**20
    max_files: int = 64
    body_timeout_s: float = 30.0
    token: str | None = None
    unknown: bool = True
    retry_after_s: int = 1
    replicas: int = 1

    def __post_init__(self) -> None:
        for name in ("max_batch", "queue_size", "max_upload_bytes", "max_files", "retry_after_s",
                     "replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ServeSettings.{name} must be a positive integer, got {value!r}")
        if not self.body_timeout_s > 0:
            raise ValueError(f"ServeSettings.body_timeout_s must be > 0, got {self.body_timeout_s!r}")
        if not self.max_wait_ms >= 0:
            raise ValueError(f"ServeSettings.max_wait_ms must be >= 0, got {self.max_wait_ms!r}")
        if self.token is not None and not self.token:
            raise ValueError("ServeSettings.token must not be empty (use None for no authentication)")

    def __repr__(self) -> str:  # never print the token
        shown = "set" if self.token else None
        return (f"ServeSettings(max_batch={self.max_batch}, max_wait_ms={self.max_wait_ms}, "
                f"queue_size={self.queue_size}, max_upload_bytes={self.max_upload_bytes}, "
                f"max_files={self.max_files}, body_timeout_s={self.body_timeout_s}, token={shown}, "
                f"unknown={self.unknown}, replicas={self.replicas})")
