"""Loading a trained GAN folder and sampling images from it, deterministically and resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm.auto import tqdm

from ganprint.gans.registry import create_gan
from ganprint.serialization import load_tensors, read_json

CHUNK = 500  # images per latent chunk; chunk k's latents depend only on (seed, k)


def generation_batch(device: torch.device | str) -> int:
    """Images per generator pass: 64 on a CPU, where larger batches fall out of the caches (a
    32x32 ``cifar-gan2`` draws 2.4x faster per image at 50 than at 500: the upsampled activations
    of 500 images are a quarter gigabyte), 1,000 on an accelerator. The images do not depend on it
    (measured bitwise on the ``cifar-gans`` generators)."""
    return 64 if torch.device(device).type == "cpu" else 1000


def load_generator(gan_dir: str | Path, device: torch.device | str = "cpu",
                   step: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The generator of a finished GAN folder (or its snapshot at training ``step``), in eval mode, plus its config."""
    gan_dir = Path(gan_dir)
    config = read_json(gan_dir / "config.json")
    if config.get("kind") != "ganprint-gan":
        raise ValueError(f"{gan_dir} is not a ganprint GAN folder")
    if config.get("status") != "finished":
        raise ValueError(f"{gan_dir}: training has not finished (run `ganprint gan train` again to resume)")
    spec = create_gan(config["arch"], **config.get("arch_options", {}))
    G = spec.generator
    if step is None:
        weights = gan_dir / "generator.safetensors"
    else:
        from ganprint.gans.trainer import list_snapshots

        snapshots = list_snapshots(gan_dir)
        if step not in snapshots:
            raise ValueError(f"{gan_dir} has no snapshot at step {step}; it has {sorted(snapshots) or 'none'}")
        weights = snapshots[step]
    G.load_state_dict(load_tensors(weights))
    return G.to(device).eval(), config


def chunk_latents(seed: int, chunk: int, latent_dim: int, n: int = CHUNK) -> torch.Tensor:
    """Latent vectors for chunk ``chunk`` of stream ``seed`` (independent of every other chunk)."""
    entropy = np.random.SeedSequence([seed, chunk]).generate_state(2, dtype=np.uint64)
    gen = torch.Generator().manual_seed(int(entropy[0] >> np.uint64(1)))
    return torch.randn(n, latent_dim, generator=gen)


@torch.inference_mode()
def generate(G: nn.Module, z: torch.Tensor, batch_size: int | None = None) -> np.ndarray:
    """Images from latents: uint8 (N, H, W, C), rounded from the generator's [0, 1] output,
    ``batch_size`` (default :func:`generation_batch`) at a time."""
    device = next(G.parameters()).device
    batch_size = batch_size or generation_batch(device)
    out = []
    for start in range(0, len(z), batch_size):
        x = G(z[start:start + batch_size].to(device)).float().clamp_(0, 1)
        out.append((x * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1, 1, 1), np.uint8)


def save_png(array: np.ndarray, path: Path) -> None:
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG", compress_level=1)
    tmp.replace(path)


def sample_to_folder(gan_dir: str | Path, n: int, out_dir: str | Path, *, seed: int = 0, start_index: int = 0,
                     device: torch.device | str = "cpu", progress: bool = True) -> Path:
    """Write images ``start_index .. start_index + n - 1`` of the GAN's stream ``seed`` as
    ``out_dir/NNNNNN.png``. The same (gan, seed, index) always gives the same image; files that
    already exist are kept, so an interrupted run resumes where it stopped. A folder of a diffusion
    model, VAE or flow is sampled with its default sampler
    (:func:`ganprint.generative.sampling.sample_generative_to_folder`)."""
    from ganprint.generative.sampling import is_generative_folder, sample_generative_to_folder

    if is_generative_folder(gan_dir):
        return sample_generative_to_folder(gan_dir, n, out_dir, seed=seed, start_index=start_index, device=device,
                                           progress=progress)
    G, config = load_generator(gan_dir, device)
    return sample_generator_to_folder(G, config["latent_dim"], n, out_dir, seed=seed,
                                      start_index=start_index, progress=progress)


def sample_generator_to_folder(G: nn.Module, latent_dim: int, n: int, out_dir: str | Path, *, seed: int = 0,
                               start_index: int = 0, progress: bool = True,
                               written: dict[int, np.ndarray] | None = None) -> Path:
    """Write images ``start_index .. start_index + n - 1`` of ``G``'s stream ``seed`` into ``out_dir``
    (see :func:`sample_to_folder`). ``written``, when given, receives ``index -> image`` (uint8
    ``(H, W, C)``, exactly the pixels of the PNG) for every file this call writes, so a caller can
    use the images without decoding them again; files that already existed are not in it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stop = start_index + n
    bar = tqdm(total=n, desc=f"sample {out.name}", disable=not progress, unit="img", dynamic_ncols=True)
    for chunk in range(start_index // CHUNK, (stop - 1) // CHUNK + 1 if n else 0):
        lo, hi = max(chunk * CHUNK, start_index), min((chunk + 1) * CHUNK, stop)
        paths = [out / f"{i:06d}.png" for i in range(lo, hi)]
        missing = [i for i, p in zip(range(lo, hi), paths, strict=False) if not p.is_file()]
        if missing:
            images = generate(G, chunk_latents(seed, chunk, latent_dim))
            for i in missing:
                save_png(images[i - chunk * CHUNK], out / f"{i:06d}.png")
                if written is not None:
                    written[i] = images[i - chunk * CHUNK]
        bar.update(hi - lo)
    bar.close()
    return out
