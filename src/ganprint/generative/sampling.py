"""Loading a trained generative model and sampling images from it, deterministically and resumably.

Image ``i`` of stream ``seed`` under sampler settings ``S`` is always the same image: images are made
in blocks of :data:`BLOCK`, and every random draw of block ``k`` (initial noise, a DDPM step's
noise) comes from a generator seeded by ``(seed, k)`` alone, so the images do not depend on how many
blocks a call writes or which files already existed. Asking for 10 images samples one block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ganprint.gans.sampling import save_png
from ganprint.generative.registry import GenerativeModel, create_generative
from ganprint.generative.trainer import KIND, MODEL_FILE
from ganprint.serialization import load_tensors, read_json

BLOCK = 100
"""Images per model pass and per random stream when sampling (a 28x28 UNet runs fastest per image at
about 100 on a CPU: 760 image-steps/s against 420 at 500)."""


def is_generative_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a generative (non-GAN) model written by this package."""
    cfg = Path(folder) / "config.json"
    return cfg.is_file() and read_json(cfg).get("kind") == KIND


def load_generative(folder: str | Path, device: torch.device | str = "cpu") -> tuple[GenerativeModel, dict[str, Any]]:
    """The model of a finished generative-model folder, in eval mode, plus its config."""
    folder = Path(folder)
    config = read_json(folder / "config.json")
    if config.get("kind") != KIND:
        raise ValueError(f"{folder} is not a ganprint generative-model folder")
    if config.get("status") != "finished":
        raise ValueError(f"{folder}: training has not finished (run `ganprint gan train` again to resume)")
    model = create_generative(config["arch"], **config.get("arch_options", {}))
    model.load_state_dict(load_tensors(folder / MODEL_FILE))
    return model.to(device).eval(), config


def _generator(*key: int) -> torch.Generator:
    entropy = np.random.SeedSequence([int(k) for k in key]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(entropy[0] >> np.uint64(1)))


@torch.inference_mode()
def generate_block(model: GenerativeModel, seed: int, block: int, sampler: dict[str, Any]) -> np.ndarray:
    """The :data:`BLOCK` images of block ``block`` of stream ``seed``: uint8 ``(BLOCK, H, W, C)``."""
    x = model.sample(BLOCK, _generator(seed, block), **sampler).float().clamp_(0, 1)
    return (x * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def sample_images(model: GenerativeModel, n: int, *, seed: int = 0, start_index: int = 0,
                  **sampler: Any) -> np.ndarray:
    """Images ``start_index .. start_index + n - 1`` of stream ``seed``, uint8 (n, H, W, C)."""
    settings = model.sampler_settings(**sampler)
    stop, out = start_index + n, []
    for block in range(start_index // BLOCK, (stop - 1) // BLOCK + 1 if n else 0):
        lo, hi = max(block * BLOCK, start_index), min((block + 1) * BLOCK, stop)
        out.append(generate_block(model, seed, block, settings)[lo - block * BLOCK:hi - block * BLOCK])
    c, h, w = model.image_shape
    return np.concatenate(out) if out else np.zeros((0, h, w, c), np.uint8)


def sample_model_to_folder(model: GenerativeModel, n: int, out_dir: str | Path, *, seed: int = 0,
                           start_index: int = 0, progress: bool = True,
                           written: dict[int, np.ndarray] | None = None, **sampler: Any) -> Path:
    """Write images ``start_index .. start_index + n - 1`` of ``model``'s stream ``seed`` (under the
    sampler settings ``sampler``) as ``out_dir/NNNNNN.png``; files that already exist are kept, so an
    interrupted run resumes. ``written`` receives ``index -> image`` for every file this call wrote."""
    settings = model.sampler_settings(**sampler)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stop = start_index + n
    bar = tqdm(total=n, desc=f"sample {out.name}", disable=not progress, unit="img", dynamic_ncols=True)
    for block in range(start_index // BLOCK, (stop - 1) // BLOCK + 1 if n else 0):
        lo, hi = max(block * BLOCK, start_index), min((block + 1) * BLOCK, stop)
        missing = [i for i in range(lo, hi) if not (out / f"{i:06d}.png").is_file()]
        if missing:
            images = generate_block(model, seed, block, settings)
            for i in missing:
                save_png(images[i - block * BLOCK], out / f"{i:06d}.png")
                if written is not None:
                    written[i] = images[i - block * BLOCK]
        bar.update(hi - lo)
    bar.close()
    return out


def sample_generative_to_folder(folder: str | Path, n: int, out_dir: str | Path, *, seed: int = 0,
                                start_index: int = 0, device: torch.device | str = "cpu", progress: bool = True,
                                **sampler: Any) -> Path:
    """:func:`sample_model_to_folder` for the model saved in ``folder``."""
    model, _ = load_generative(folder, device)
    return sample_model_to_folder(model, n, out_dir, seed=seed, start_index=start_index, progress=progress,
                                  **sampler)
