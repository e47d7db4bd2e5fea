"""``ganprint serve``: a trained attributor behind an HTTP API and a web page.

* :mod:`~ganprint.serve.settings`: the service's typed settings (limits, batching, auth).
* :mod:`~ganprint.serve.uploads`: multipart uploads read in memory under size limits.
* :mod:`~ganprint.serve.batcher`: the micro-batcher that gathers concurrent requests for the model.
* :mod:`~ganprint.serve.worker`: the model side, decoding and scoring in one worker thread.
* :mod:`~ganprint.serve.metrics`: counters and histograms in Prometheus' text format.
* :mod:`~ganprint.serve.app`: the FastAPI application, :func:`create_app`.
"""

from ganprint.serve.app import create_app
from ganprint.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
