import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    """Deterministic, offline, and never touching the user's cache."""
    monkeypatch.setenv("GANPRINT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def one_thread():
    """One PyTorch thread for tests of many tiny steps: faster than two (no OpenMP barriers), above
    all on a busy machine. Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
