"""`ganprint serve`'s API through an HTTP client: the same answers as `predict`, limits, refusals,
auth, batching, the model card, heatmaps and metrics."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image
from serve_fixtures import UNKNOWN_IMAGE, bad_images, good_images, train_model

from ganprint.attribution.card import read_model_card
from ganprint.attribution.loading import load_model
from ganprint.cli.main import cli
from ganprint.serve import ServeSettings, create_app
from ganprint.serve.uploads import UploadError, read_uploads

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return train_model(tmp_path_factory.mktemp("serve") / "model")


@pytest.fixture(scope="module")
def model(model_dir):
    return load_model(model_dir, device="cpu")


@pytest.fixture(scope="module")
def client(model, model_dir):
    with TestClient(create_app(model, ServeSettings(), card=read_model_card(model_dir))) as c:
        yield c


@pytest.fixture(scope="module")
def uploads():
    return {**good_images(), **bad_images()}


def post(client, files: dict[str, bytes], path="/v1/predict", content_type="image/png", **kw):
    return client.post(path, files=[("files", (name, data, content_type)) for name, data in files.items()], **kw)


@pytest.fixture(scope="module")
def predicted(model_dir, uploads, tmp_path_factory) -> list[str]:
    """What `ganprint predict` prints for the uploads, written under their names and named relative
    to the working folder (so that its "path" is the bare name, as an upload's is)."""
    folder = tmp_path_factory.mktemp("files")
    for name, data in uploads.items():
        (folder / name).write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        result = CliRunner().invoke(cli, ["predict", "--model", str(model_dir), "--device", "cpu", "--", *uploads])
    assert result.exit_code == 1, result.output
    return result.stdout.splitlines()


# -------------------------------------------------------------------------------------------------
# the same answers as predict


def test_predict_one_image(client):
    name, data = next(iter(good_images().items()))
    r = post(client, {name: data})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    (record,) = r.json()["results"]
    assert record["path"] == name and record["label"] in ("real", "gan_a", "gan_b")
    assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert 0 <= record["p_fake"] <= 1 and "known_score" in record


def test_many_images_byte_for_byte_as_predict(client, uploads, predicted):
    expected = predicted
    r = post(client, uploads)
    assert r.status_code == 422  # some files could not be scored, as predict exits 1
    got = [json.dumps(record) for record in r.json()["results"]]
    assert got == expected
    labels = {json.loads(line)["path"]: json.loads(line).get("label") for line in expected}
    assert labels[UNKNOWN_IMAGE] == "unknown" and labels["good_0.png"] != "unknown"


@pytest.mark.parametrize("name", sorted(bad_images()))
def test_each_odd_or_bad_file_alone_gets_predicts_answer(client, predicted, name):
    data = bad_images()[name]
    (expected,) = [line for line in predicted if json.loads(line)["path"] == name]
    r = post(client, {name: data}, content_type="application/octet-stream")  # the declared type is ignored
    assert json.dumps(r.json()["results"][0]) == expected
    assert r.status_code == (422 if "error" in json.loads(expected) else 200)


def test_declared_content_type_changes_nothing(client):
    name, data = next(iter(good_images().items()))
    a = post(client, {name: data}, content_type="image/png").json()
    b = post(client, {name: data}, content_type="text/plain").json()
    assert a == b


# -------------------------------------------------------------------------------------------------
# refusals


def test_body_over_the_limit_is_413_from_content_length_and_while_streaming(model):
    settings = ServeSettings(max_upload_bytes=2000)
    big = {"big.png": bytes(5000)}
    with TestClient(create_app(model, settings)) as c:
        assert post(c, big).status_code == 413
        body, headers = _multipart(big)

        def chunks():  # no Content-Length: the limit is checked on the bytes received
            for i in range(0, len(body), 512):
                yield body[i:i + 512]

        r = c.post("/v1/predict", content=chunks(), headers=headers)
        assert r.status_code == 413 and "limit of 2000 bytes" in r.json()["error"]
        lying = c.post("/v1/predict", content=body, headers={**headers, "content-length": "100"})
        assert lying.status_code in (400, 413)
        small = next(iter(good_images().items()))
        assert post(c, dict([small])).status_code == 200


def test_a_body_that_does_not_arrive_in_time_is_408():
    # TestClient reads a streamed body whole before the app sees it, so this one talks to the reader
    body, headers = _multipart(dict(list(good_images().items())[:1]))

    async def trickle():
        yield body[:100]
        await asyncio.sleep(1.0)
        yield body[100:]

    def read(chunks, timeout_s):
        return asyncio.run(read_uploads(chunks, headers["content-type"], None, max_bytes=10**6, max_files=4,
                                        timeout_s=timeout_s))

    with pytest.raises(UploadError) as refused:
        read(trickle(), 0.3)
    assert refused.value.status == 408 and "within 0.3 s" in refused.value.message
    ((name, data),) = read(trickle(), 5)
    assert name == "good_0.png" and data == good_images()["good_0.png"]


def test_too_many_files_is_413(model):
    with TestClient(create_app(model, ServeSettings(max_files=3))) as c:
        files = dict(list(good_images().items())[:4])
        r = post(c, files)
        assert r.status_code == 413 and "at most 3" in r.json()["error"]
        assert post(c, dict(list(files.items())[:3])).status_code == 200


def test_not_multipart_and_malformed_bodies_are_clear_4xx(client):
    r = client.post("/v1/predict", content=b"\x89PNG...", headers={"content-type": "image/png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = client.post("/v1/predict", data={"other": "field"}, files=[("elsewhere", ("a.png", b"x", "image/png"))])
    assert r.status_code == 400 and "'files'" in r.json()["error"]
    body, headers = _multipart(good_images())
    r = client.post("/v1/predict", content=body[: len(body) // 2], headers=headers)  # cut short
    assert r.status_code == 400 and "malformed" in r.json()["error"]


class SlowModel:
    """A model whose scoring takes ``seconds`` longer: keeps the one model thread busy."""

    def __init__(self, model, seconds: float) -> None:
        self._model, self.seconds = model, seconds

    def __getattr__(self, name):
        return getattr(self._model, name)

    def outputs(self, images, **kw):
        time.sleep(self.seconds)
        return self._model.outputs(images, **kw)


def _in_thread(fn):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()))
    thread.start()
    return thread, box


def _wait_for(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_full_queue_is_503_with_retry_after(model):
    one = dict(list(good_images().items())[:1])
    with TestClient(create_app(SlowModel(model, 1.0), ServeSettings(queue_size=1))) as c:
        thread, box = _in_thread(lambda: post(c, one))
        _wait_for(lambda: "ganprint_requests_in_flight 1" in c.get("/metrics").text)
        busy = post(c, one)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        thread.join()
        assert box["result"].status_code == 200
        assert post(c, one).status_code == 200  # the slot is free again
        assert 'ganprint_rejected_total{reason="queue_full"} 1' in c.get("/metrics").text


def test_concurrent_requests_share_batches(model):
    files = list(good_images().items())
    with TestClient(create_app(SlowModel(model, 0.3), ServeSettings(max_batch=64))) as c:
        runs = [_in_thread(lambda i=i: post(c, dict([files[i % len(files)]]))) for i in range(12)]
        for thread, _ in runs:
            thread.join()
        assert all(box["result"].status_code == 200 for _, box in runs)
        text = c.get("/metrics").text
    assert "ganprint_batch_size_sum 12.0" in text
    batches = int(_metric(text, "ganprint_batch_size_count"))
    assert batches <= 4, text  # 12 requests, most of them waiting together behind the first batch


class FailingModel(SlowModel):
    """A model that raises while ``broken`` is set."""

    broken = False

    def outputs(self, images, **kw):
        if self.broken:
            raise RuntimeError("out of memory, say")
        return self._model.outputs(images, **kw)


def test_a_failing_batch_fails_its_requests_and_the_service_goes_on(model):
    one = dict(list(good_images().items())[:1])
    failing = FailingModel(model, 0)
    with TestClient(create_app(failing, ServeSettings())) as c:
        failing.broken = True
        r = post(c, one)
        assert r.status_code == 500 and "RuntimeError" in r.json()["error"]
        failing.broken = False
        assert post(c, one).status_code == 200
        text = c.get("/metrics").text
    assert _metric(text, "ganprint_batches_failed_total") == "1"
    assert _metric(text, 'ganprint_rejected_total{reason="scoring_failed"}') == "1"


class ExclusiveModel(SlowModel):
    """A slow model that fails any call made while another call on the same object is running (two
    threads sharing one model); every call is logged in the class (deep copies share the log)."""

    calls: list[tuple[int, float, float]] = []

    def __init__(self, model, seconds: float) -> None:
        super().__init__(model, seconds)
        self.active = 0

    def __getattr__(self, name):
        if name.startswith("__") or name == "_model":  # a deep copy's reconstruction asks for these
            raise AttributeError(name)
        return getattr(self._model, name)

    def outputs(self, images, **kw):
        self.active += 1
        start = time.perf_counter()
        try:
            time.sleep(self.seconds)
            if self.active > 1:
                raise RuntimeError("two threads used one model at once")
            return self._model.outputs(images, **kw)
        finally:
            self.active -= 1
            ExclusiveModel.calls.append((id(self), start, time.perf_counter()))


def test_replicas_score_concurrent_batches_each_on_its_own_model(model, uploads, predicted):
    expected = {json.loads(line)["path"]: line for line in predicted}
    ExclusiveModel.calls.clear()
    with TestClient(create_app(ExclusiveModel(model, 0.2), ServeSettings(replicas=2, max_batch=4))) as c:
        ExclusiveModel.calls.clear()  # not the warm-up
        items = list(uploads.items()) * 2
        runs = [_in_thread(lambda item=item: post(c, dict([item]))) for item in items]
        for thread, _ in runs:
            thread.join()
        text = c.get("/metrics").text
    for (name, _), (_, box) in zip(items, runs, strict=True):
        r = box["result"]
        assert r.status_code == (422 if "error" in json.loads(expected[name]) else 200), r.text
        assert [json.dumps(record) for record in r.json()["results"]] == [expected[name]]
    calls = ExclusiveModel.calls
    assert len({owner for owner, _, _ in calls}) == 2  # both replicas scored
    assert any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2] for a in calls for b in calls), calls  # at once
    assert _metric(text, "ganprint_batches_failed_total") == "0"


def test_a_lone_request_does_not_wait_for_company(model):
    one = dict(list(good_images().items())[:1])
    with TestClient(create_app(model, ServeSettings(max_wait_ms=3000))) as c:
        post(c, one)
        start = time.perf_counter()
        assert post(c, one).status_code == 200
        assert time.perf_counter() - start < 1.5


# -------------------------------------------------------------------------------------------------
# auth, model card, heatmaps, health, metrics


def test_token_is_required_when_set(model, tmp_path):
    one = dict(list(good_images().items())[:1])
    with TestClient(create_app(model, ServeSettings(token="s3cret-token"))) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            for r in (post(c, one, headers=headers), post(c, one, "/v1/explain", headers=headers),
                      c.get("/v1/model", headers=headers), c.get("/metrics", headers=headers)):
                assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        good = {"Authorization": "Bearer s3cret-token"}
        assert post(c, one, headers=good).status_code == 200
        assert c.get("/metrics", headers=good).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200


def test_model_card(client, model_dir):
    r = client.get("/v1/model")
    assert r.status_code == 200
    card = r.json()
    full = json.loads(json.dumps(read_model_card(model_dir)))
    assert full["model"]["path"] == str(model_dir)
    full["model"]["path"] = "model"  # the server's folders are not shown, only their names
    if full["training_data"] and "path" in full["training_data"]:
        full["training_data"]["path"] = Path(full["training_data"]["path"]).name
    assert card == full
    assert card["model"]["classes"] == ["gan_a", "gan_b", "real"]
    assert card["input"] is not None and card["calibration"] is not None


def test_explain_draws_the_overlay_predict_heatmaps_writes(client, model_dir, tmp_path, monkeypatch):
    files = good_images()
    monkeypatch.chdir(tmp_path)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    r = CliRunner().invoke(cli, ["predict", "--model", str(model_dir), "--device", "cpu", "--heatmaps", "maps",
                                 *files])
    assert r.exit_code == 0, r.output
    written = [json.loads(line)["heatmap"] for line in r.stdout.splitlines()]
    for name, path in zip(files, written, strict=True):
        answer = post(client, {name: files[name]}, "/v1/explain")
        assert answer.content == (tmp_path / path).read_bytes(), name


def test_explain_returns_a_png_overlay(client):
    name, data = next(iter(good_images().items()))
    r = post(client, {name: data}, "/v1/explain")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(r.content))
    assert picture.format == "PNG" and picture.width >= 224 and picture.height > 224  # caption above
    assert len(np.unique(np.asarray(picture.convert("RGB")).reshape(-1, 3), axis=0)) > 16  # a colour map
    bad = post(client, {"empty.png": b""}, "/v1/explain")
    assert bad.status_code == 422 and bad.json()["results"] == [{"path": "empty.png", "error": "empty.png: empty file"}]
    two = post(client, dict(list(good_images().items())[:2]), "/v1/explain")
    assert two.status_code == 413


def test_health_and_page(client):
    r = client.get("/healthz")
    assert r.json() == {"status": "ok", "classes": ["gan_a", "gan_b", "real"]}
    page = client.get("/")
    assert page.status_code == 200 and 'src="/static/page.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in client.get("/static/page.js").text.replace("HTTP ", "")  # nothing from elsewhere
    assert client.get("/static/page.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_metrics_count_requests_errors_latency_and_batches(model):
    one = dict(list(good_images().items())[:1])
    with TestClient(create_app(model, ServeSettings())) as c:
        post(c, one)
        post(c, one)
        post(c, {"empty.png": b""})
        c.post("/v1/predict", content=b"x", headers={"content-type": "text/plain"})
        text = c.get("/metrics").text
    assert text.endswith("\n") and "# TYPE ganprint_request_seconds histogram" in text
    assert _metric(text, 'ganprint_requests_total{endpoint="predict",status="200"}') == "2"
    assert _metric(text, 'ganprint_requests_total{endpoint="predict",status="422"}') == "1"
    assert _metric(text, 'ganprint_requests_total{endpoint="predict",status="415"}') == "1"
    assert _metric(text, "ganprint_request_errors_total") == "2"
    assert _metric(text, 'ganprint_files_total{outcome="scored"}') == "2"
    assert _metric(text, 'ganprint_files_total{outcome="error"}') == "1"
    assert _metric(text, 'ganprint_request_seconds_count{endpoint="predict"}') == "4"
    assert _metric(text, 'ganprint_request_seconds_bucket{endpoint="predict",le="+Inf"}') == "4"
    assert _metric(text, "ganprint_batch_size_count") == "3"
    assert _metric(text, 'ganprint_batch_size_bucket{le="1.0"}') == "3"


def test_uploaded_names_never_reach_the_filesystem(client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "planted.png"
    data = next(iter(good_images().values()))
    names = ["../planted.png", str(target), "planted.png", "a/../../planted.png", "..\\planted.png", "con"]
    r = post(client, dict.fromkeys(names, data))
    assert r.status_code == 200
    assert [rec["path"] for rec in r.json()["results"]] == names  # as text, untouched
    post(client, {"../planted.png": data}, "/v1/explain")
    post(client, {str(target): b""}, "/v1/explain")
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "planted.png").exists()


# -------------------------------------------------------------------------------------------------
# the command


def test_serve_command_refuses_a_bad_token_file(model_dir, tmp_path):
    empty = tmp_path / "token"
    empty.write_text("  \n")
    r = CliRunner().invoke(cli, ["serve", "--model", str(model_dir), "--token-file", str(empty)])
    assert r.exit_code == 2 and "must hold one token" in r.output
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "--max-wait-ms" in r.output and "127.0.0.1" in r.output


# -------------------------------------------------------------------------------------------------


def _metric(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return line.split(" ")[-1]
    raise AssertionError(f"{name} not in\n{text}")


def _multipart(files: dict[str, bytes]) -> tuple[bytes, dict[str, str]]:
    boundary = "ganprint-test-boundary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                    f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n" for name, data in files.items())
    return body + f"--{boundary}--\r\n".encode(), {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_batches_are_cut_at_a_multiple_of_the_quantum_when_more_wait():
    from concurrent.futures import ThreadPoolExecutor

    from ganprint.serve.batcher import MicroBatcher

    sizes = []

    def run_batch(items):
        sizes.append(len(items))
        return [item * 2 for item in items]

    async def scenario():
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher([(run_batch, executor)], max_batch=64, max_wait_s=0, capacity=64, quantum=16)
            tickets = [batcher.admit() for _ in range(17)]
            submits = [asyncio.ensure_future(t.__enter__().submit([i])) for i, t in enumerate(tickets)]
            await asyncio.sleep(0)  # every request waiting before the batcher starts
            batcher.start()
            results = await asyncio.gather(*submits)
            await batcher.stop()
            return results

    assert asyncio.run(scenario()) == [[2 * i] for i in range(17)]
    assert sizes == [16, 1]  # 17 rows would cost as much as 32: the 17th waits for the next batch


def test_a_model_without_one_network_scores_but_answers_explain_with_501():
    """A training-free residual-correlation model: /v1/predict works, /v1/explain says why it cannot."""
    from serve_fixtures import sources

    from ganprint.attribution.attributor import Preprocessing
    from ganprint.fingerprints.correlation import ResidualCorrelationAttributor

    X, y = sources(20)
    model = ResidualCorrelationAttributor(preprocessing=Preprocessing((28, 28), 1))
    model.fit(X[::2], y[::2], X[1::2], y[1::2])
    files = dict(list(good_images().items())[:2])
    with TestClient(create_app(model, ServeSettings())) as c:
        answer = post(c, files)
        assert answer.status_code == 200
        assert [r["path"] for r in answer.json()["results"]] == list(files)
        refused = post(c, dict(list(files.items())[:1]), path="/v1/explain")
    assert refused.status_code == 501 and "single-network" in refused.text


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("0.0.0.0", True)])
def test_listening_beyond_this_machine_without_a_token_is_warned_about(model_dir, monkeypatch, host, warned):
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    res = CliRunner().invoke(cli, ["serve", "--model", str(model_dir), "--host", host, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert started and started[0]["host"] == host
    assert ("without --token-file" in res.stderr) == warned
