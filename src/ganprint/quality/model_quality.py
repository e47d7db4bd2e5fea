"""Quality figures of any trained generator folder (a GAN, diffusion model, VAE or flow), as the
studies give them: for 28x28 digits the independent judge's recognised share and k-NN precision and
recall (:func:`ganprint.quality.judge.judge_figures`); for 32x32 colour images the Fréchet figure
(median over feature networks trained on real images) and the SWD figure
(:func:`ganprint.quality.figures.gan_quality`). The judge and the feature networks are trained once
per real source and seed and kept in a cache folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

DIGIT_SOURCES = ("mnist5k", "mnist")
COLOR_SOURCES = ("photos", "cifar10")
JUDGE_SEED = 7_919


def sample_folder_images(folder: str | Path, n: int, *, seed: int = 0, start_index: int = 0,
                         device: torch.device | str = "cpu", **sampler: Any) -> np.ndarray:
    """Images ``start_index .. start_index + n - 1`` of stream ``seed`` of a trained model folder of any
    family, uint8 (n, H, W, C), the same pixels ``gan sample`` writes."""
    from ganprint.generative.sampling import is_generative_folder, load_generative, sample_images

    if is_generative_folder(folder):
        model, _ = load_generative(folder, device)
        return sample_images(model, n, seed=seed, start_index=start_index, **sampler)
    if sampler:
        raise ValueError(f"sampler settings {sorted(sampler)} apply to diffusion models, VAEs and flows, "
                         f"not to the GAN in {folder}")
    from ganprint.gans.sampling import CHUNK, chunk_latents, generate, load_generator

    G, config = load_generator(folder, device)
    stop, parts = start_index + n, []
    for k in range(start_index // CHUNK, (stop - 1) // CHUNK + 1 if n else 0):
        lo, hi = max(start_index, k * CHUNK) - k * CHUNK, min(stop, (k + 1) * CHUNK) - k * CHUNK
        parts.append(generate(G, chunk_latents(seed, k, config["latent_dim"])[lo:hi]))
    return np.concatenate(parts) if parts else np.zeros((0, *config["image_shape"][1:], 1), np.uint8)


def digit_quality(samples: np.ndarray, source: str = "mnist5k", *, seed: int = 0, cache_dir: str | Path,
                  device: torch.device | str = "cpu", judge_epochs: int = 15, progress: bool = False) -> dict[str, Any]:
    """The judge's figures for uint8 digit ``samples`` ((M, 28, 28[, 1])) against ``source``'s real
    digits. The judge (trained on the source, cached under ``cache_dir``) steers nothing. The k-NN
    reference is the source's digits, which usually include the generator's own training digits:
    a generator that copies its training set scores a high recall here (the ``families`` study holds
    the reference out)."""
    from ganprint.data.mnist import load_digits_source
    from ganprint.quality.judge import DigitJudge, judge_figures

    digits = load_digits_source(source)
    folder = Path(cache_dir) / f"judge-{source}-{seed}-{judge_epochs}"
    if (folder / "config.json").is_file():
        judge = DigitJudge.load(folder, device)
    else:
        judge = DigitJudge.train(digits, epochs=judge_epochs, seed=seed + JUDGE_SEED, device=device, progress=progress)
        judge.save(folder)
    images = samples[..., 0] if samples.ndim == 4 else samples
    rng = np.random.default_rng([seed, 5])
    reference = digits.images[np.sort(rng.choice(len(digits.images), min(4000, len(digits.images)), replace=False))]
    return {"kind": "digits", "source": source, "samples": int(len(images)),
            "judge_test_accuracy": judge.report.get("test_accuracy"),
            **judge_figures(judge, images, range(10), reference, seed=seed)}


def color_quality(samples: np.ndarray, source: str = "photos", *, seed: int = 0, cache_dir: str | Path,
                  device: torch.device | str = "cpu", networks: int = 5, n_train: int = 5000,
                  n_reference: int = 2000) -> dict[str, Any]:
    """The Fréchet and SWD figures of uint8 colour ``samples`` ((M, 32, 32, 3)) against ``source``'s
    test images, with ``networks`` feature networks trained on its training images (cached)."""
    from ganprint.data.photos import load_color_source
    from ganprint.quality.figures import gan_quality
    from ganprint.quality.frechet import cached_quality_model

    model = cached_quality_model(Path(cache_dir) / f"quality-{source}-{seed}",
                                 lambda: load_color_source(source, "train", n=n_train, seed=seed), seed=seed,
                                 device=device, networks=networks)
    reference = load_color_source(source, "test", n=n_reference, seed=seed + 1)
    return {"kind": "color", "source": source, "samples": int(len(samples)),
            **gan_quality(model, reference, samples, seed=seed)}
