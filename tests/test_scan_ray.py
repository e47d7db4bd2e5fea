"""`ganprint scan --engine ray` on a local Ray instance with 2 CPUs: the local engine's rows."""

import numpy as np
import pytest
from PIL import Image

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.scan import ScanConfig, read_results, run_scan

ray = pytest.importorskip("ray")  # a dependency of ganprint; CI has it


@pytest.fixture(scope="module")
def ray_instance():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan-ray")
    rng = np.random.default_rng(0)
    X = (rng.random((32, 28, 28, 1)) * 255).astype(np.uint8)
    X[16:] //= 4
    att = Attributor(preprocessing=Preprocessing((28, 28), 1), device="cpu")
    att.fit_config = att.fit_config.__class__(epochs=1, batch_size=8, patience=None)
    att.fit(X, ["real"] * 16 + ["fake"] * 16, progress=False).save(root / "model")
    images = root / "images"
    images.mkdir()
    for i in range(23):
        Image.fromarray((rng.random((28, 28)) * (255 if i % 2 else 50)).astype(np.uint8)).save(images / f"{i:02d}.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root / "model", images


def test_ray_engine_gives_the_local_engines_rows_and_resumes_a_local_scan(ray_instance, setup, tmp_path):
    model, images = setup

    def config(out, engine):
        return ScanConfig(model_dir=model, sources=(str(images),), out=tmp_path / out, engine=engine,
                          shard_size=5, batch_size=3, device="cpu")

    run_scan(config("local", "local"))
    summary = run_scan(config("ray", "ray"))
    assert summary.files == 24 and summary.errors == 1 and summary.scanned_now == 24
    local = read_results(tmp_path / "local")
    assert read_results(tmp_path / "ray").equals(local)
    # a scan started on the local engine is finished on Ray (the engine is not a setting)
    (tmp_path / "local" / "shards" / "part-000001.parquet").unlink()
    (tmp_path / "local" / "shards" / "part-000004.parquet").unlink()
    assert run_scan(config("local", "ray")).scanned_now == 9
    assert read_results(tmp_path / "local").equals(local)
