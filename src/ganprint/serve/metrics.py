"""The service's counters and histograms, rendered in Prometheus' text exposition format (0.0.4).

Hand-written rather than through prometheus-client: a few counters and two histograms need no
dependency, and keeping them in one object (no global registry) lets several apps live in one
process (tests). Every update happens on the event loop's thread, so no lock is needed.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence

__all__ = ["Histogram", "ServiceMetrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Histogram:
    """Cumulative-bucket histogram: ``observe`` values, ``render`` the ``_bucket``/``_sum``/``_count`` lines."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = tuple(sorted(buckets))
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str, labels: str = "") -> list[str]:
        sep = "," if labels else ""
        lines, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            le = "+Inf" if bound == float("inf") else _number(bound)
            lines.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {total}')
        braces = f"{{{labels}}}" if labels else ""
        lines += [f"{name}_sum{braces} {_number(self.sum)}", f"{name}_count{braces} {self.count}"]
        return lines


class ServiceMetrics:
    """What ``/metrics`` shows: requests by endpoint and status, per-file outcomes, refusals,
    request latency per endpoint, batch sizes, and the requests now admitted."""

    def __init__(self, in_flight: Callable[[], int] = lambda: 0) -> None:
        self.requests: Counter[tuple[str, int]] = Counter()
        self.files: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.batches_failed = 0
        self.in_flight = in_flight

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests[endpoint, status] += 1
        self.latency.setdefault(endpoint, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def render(self) -> str:
        out = ["# HELP ganprint_requests_total HTTP requests answered, by endpoint and status.",
               "# TYPE ganprint_requests_total counter"]
        out += [f'ganprint_requests_total{{endpoint="{e}",status="{s}"}} {n}'
                for (e, s), n in sorted(self.requests.items())]
        out += ["# HELP ganprint_request_errors_total Requests answered with a 4xx or 5xx status.",
                "# TYPE ganprint_request_errors_total counter",
                f"ganprint_request_errors_total {sum(n for (_, s), n in self.requests.items() if s >= 400)}",
                "# HELP ganprint_files_total Uploaded images, by outcome (scored, or error: not decodable).",
                "# TYPE ganprint_files_total counter"]
        out += [f'ganprint_files_total{{outcome="{k}"}} {self.files[k]}' for k in ("scored", "error")]
        out += ["# HELP ganprint_rejected_total Requests refused or failed as a whole, by reason.",
                "# TYPE ganprint_rejected_total counter"]
        out += [f'ganprint_rejected_total{{reason="{k}"}} {n}' for k, n in sorted(self.rejected.items())]
        out += ["# HELP ganprint_request_seconds Time from a request's arrival to its answer.",
                "# TYPE ganprint_request_seconds histogram"]
        for endpoint, hist in sorted(self.latency.items()):
            out += hist.render("ganprint_request_seconds", f'endpoint="{endpoint}"')
        out += ["# HELP ganprint_batch_size Images per model call.",
                "# TYPE ganprint_batch_size histogram", *self.batch_size.render("ganprint_batch_size"),
                "# HELP ganprint_batches_failed_total Model calls that raised (their requests got 500).",
                "# TYPE ganprint_batches_failed_total counter", f"ganprint_batches_failed_total {self.batches_failed}",
                "# HELP ganprint_requests_in_flight Requests admitted and not yet answered.",
                "# TYPE ganprint_requests_in_flight gauge", f"ganprint_requests_in_flight {self.in_flight()}"]
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    return repr(float(value))
