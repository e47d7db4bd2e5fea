"""Signal fingerprints of image sources: mean log spectra and mean noise residuals.

Pure functions on float images (N, C, H, W) in [0, 1] (numpy arrays or torch tensors; results are
numpy float64). A GAN's upsampling leaves periodic traces that show up as peaks in the mean
spectrum (Frank et al. 2020, seed 003; Yu et al. 2019, seed 004), and its high-frequency noise
pattern survives in the mean of the images' noise residuals (Marra et al. 2019, "Do GANs leave
artificial fingerprints?"): averaging over many images cancels the content and keeps what every
image of the source shares.

* :func:`log_spectrum`: ``log(|F(x)| + eps)`` per image and channel, ``F`` the centred 2-D FFT or
  the orthonormal 2-D DCT-II (:func:`ganprint.data.representations.dct2_log`);
* :func:`noise_residual`: ``x - denoise(x)``, the denoiser a Gaussian blur (``sigma`` px) or a
  ``size`` x ``size`` median filter;
* :func:`source_means`: the per-source mean of any of these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ganprint.data.representations import DCT_EPS, dct2_log

__all__ = ["DENOISERS", "SPECTRA", "denoise", "log_spectrum", "noise_residual", "signal_fingerprints",
           "source_means"]

SPECTRA = ("fft", "dct")
DENOISERS = ("gaussian", "median")
CHUNK = 1024


def _tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x)
    if t.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(t.shape)}")
    return t.to(torch.float64)


def images_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) -> float64 (N, C, H, W) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {images.shape}")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return images.transpose(0, 3, 1, 2).astype(np.float64) / scale


def log_spectrum(x: np.ndarray | torch.Tensor, kind: str = "fft", eps: float = DCT_EPS) -> np.ndarray:
    """``log(|spectrum| + eps)`` of each image and channel, same shape as ``x``. ``kind`` ``fft``:
    the 2-D DFT shifted so that the zero frequency is at the centre (``H // 2, W // 2``); ``dct``:
    the orthonormal 2-D DCT-II (zero frequency at the top left)."""
    t = _tensor(x)
    if kind == "fft":
        mag = torch.fft.fftshift(torch.fft.fft2(t, norm="ortho"), dim=(-2, -1)).abs()
        return torch.log(mag + eps).numpy()
    if kind == "dct":
        return np.asarray(dct2_log(t, eps=eps), dtype=np.float64)
    raise ValueError(f"unknown spectrum {kind!r}; known: {', '.join(SPECTRA)}")


def denoise(x: np.ndarray | torch.Tensor, method: str = "gaussian", *, sigma: float = 1.0,
            size: int = 3) -> np.ndarray:
    """A denoised copy of images (N, C, H, W): Gaussian blur with std ``sigma`` px, or a ``size`` x
    ``size`` median filter; borders are reflected."""
    t = _tensor(x)
    if method == "gaussian":
        if sigma <= 0:
            return t.numpy().copy()
        r = int(np.ceil(3 * sigma))
        k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float64) ** 2 / (2 * sigma ** 2))
        k = k / k.sum()
        c = t.shape[1]
        y = F.pad(t, (r, r, r, r), mode="reflect")
        y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        y = F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
        return y.numpy()
    if method == "median":
        if size < 1 or size % 2 == 0:
            raise ValueError(f"median size must be odd and >= 1, got {size}")
        r = size // 2
        n, c, h, w = t.shape
        y = F.pad(t.reshape(n * c, 1, h, w), (r, r, r, r), mode="reflect")
        patches = F.unfold(y, size)  # (N*C, size*size, H*W)
        return patches.median(dim=1).values.reshape(n, c, h, w).numpy()
    raise ValueError(f"unknown denoiser {method!r}; known: {', '.join(DENOISERS)}")


def noise_residual(x: np.ndarray | torch.Tensor, method: str = "gaussian", *, sigma: float = 1.0,
                   size: int = 3) -> np.ndarray:
    """``x - denoise(x)``: the high-frequency part of each image, where generator traces live."""
    t = _tensor(x)
    return t.numpy() - denoise(t, method, sigma=sigma, size=size)


def source_means(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray | torch.Tensor,
                 labels: Sequence | np.ndarray, classes: Sequence | None = None) -> dict[str, np.ndarray]:
    """``{source: mean over its images of fn(images)}`` (each (C, H, W)), computed in chunks;
    ``classes`` fixes the order (default: sorted labels)."""
    t = _tensor(x)
    labels = np.asarray([str(v) for v in labels])
    if len(labels) != len(t):
        raise ValueError(f"{len(t)} images but {len(labels)} labels")
    classes = [str(c) for c in (classes if classes is not None else np.unique(labels))]
    out = {}
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if not len(idx):
            raise ValueError(f"no images of source {c!r}")
        total = sum(fn(t[idx[i:i + CHUNK]]).sum(0) for i in range(0, len(idx), CHUNK))
        out[c] = total / len(idx)
    return out


def signal_fingerprints(x: np.ndarray | torch.Tensor, labels: Sequence | np.ndarray, *,
                        classes: Sequence | None = None, denoiser: str = "gaussian",
                        sigma: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    """Per source: the mean noise residual and the mean FFT and DCT log spectra,
    ``{"residual": {source: (C, H, W)}, "fft": {...}, "dct": {...}}``."""
    return {
        "residual": source_means(lambda b: noise_residual(b, denoiser, sigma=sigma), x, labels, classes),
        "fft": source_means(lambda b: log_spectrum(b, "fft"), x, labels, classes),
        "dct": source_means(lambda b: log_spectrum(b, "dct"), x, labels, classes),
    }
