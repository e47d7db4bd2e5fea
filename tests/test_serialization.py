import pickle

import pytest
import torch

from ganprint.serialization import UnsafeModelFileError, load_folder, load_tensors, save_folder


def test_round_trip(tmp_path):
    w = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([1, 2], dtype=torch.int64)}
    save_folder(tmp_path / "m", {"kind": "x", "classes": ["r", "f"]}, {"model": w})
    config, weights = load_folder(tmp_path / "m", ["model"])
    assert config == {"kind": "x", "classes": ["r", "f"]}
    torch.testing.assert_close(weights["model"]["a"], w["a"])


@pytest.mark.parametrize("writer", [
    lambda p: p.write_bytes(pickle.dumps({"w": [1.0, 2.0]})),
    lambda p: torch.save({"w": torch.zeros(2)}, p),
    lambda p: p.write_bytes(b""),
    lambda p: p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"),
    lambda p: p.write_bytes(b"hello, this is text and not a model file at all"),
])
def test_refuses_pickles_and_garbage(tmp_path, writer):
    path = tmp_path / "model.safetensors"
    writer(path)
    with pytest.raises(UnsafeModelFileError):
        load_tensors(path)


def test_pickle_never_executes(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("open({!r}, 'w').write('pwned')".format(str(tmp_path / "pwned")),))

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(UnsafeModelFileError, match="pickle"):
        load_tensors(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_folder(tmp_path / "nope", ["model"])


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"])
def test_a_header_length_that_starts_like_a_pickle_or_zip_is_still_loaded(tmp_path, first_bytes):
    """A safetensors file begins with its header's length; about one file in 32 has a length whose
    first byte is a pickle's 0x80 (one in 2,400 starts like a zip). Such files are real weights."""
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    w = {"a": torch.arange(4.0)}
    for pad in range(0, 20000, 4):
        save_file(w, str(path), metadata={"pad": "x" * pad})
        if path.read_bytes()[: len(first_bytes)] == first_bytes:
            break
    else:
        pytest.fail("no padding gave the wanted header length")
    torch.testing.assert_close(load_tensors(path)["a"], w["a"])
