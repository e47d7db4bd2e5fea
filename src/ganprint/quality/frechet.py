"""A quality figure for color GANs without downloads: a Fréchet distance on the features of a small
CNN trained, self-supervised, on the real images themselves.

FID needs Inception weights (a download). Here the feature network is a five-layer CNN trained on
the GAN's own real training images with a label-free pretext task: recognise which of five
transformations was applied to an image: a rotation by 0, 90, 180 or 270 degrees (Gidaris et al.,
ICLR 2018), or its four quadrants swapped around. Both need no annotation and work on any image
source (a folder, CIFAR-10, the bundled photo crops), unlike a proxy label such as "which source
photo". To solve them the network has to learn what the real images' content looks like: which way
is up, how edges, textures and colours continue across the image. Those are the statistics a GAN has
to reproduce, and noise, flat blobs or a collapsed mode look nothing like them. We tried, and
dropped, two other pretext sets on the bundled photo crops: rotations alone barely trained in a
few epochs (the features stayed close to a random network's: a blur of 2 px moved the distance by
less than 4% of the real-to-blobs gap), and adding "blurred" and "noisy" as classes made the
network a degradation detector (a blur of 0.7 px already scored 0.41 below, as a soft but correct
GAN would).

The features are the global-average-pooled activations of the last two convolution stages
(64 + 128 = 192 values), so both texture and layout count. The figure (:func:`quality_figure`)
compares, at one sample size (the Fréchet distance's bias depends on it), the distance to
held-out real images of:

* ``fd``: the GAN's samples;
* ``fd_real``: a disjoint half of the real reference (the floor: what a perfect GAN would score);
* ``fd_noise`` / ``fd_blobs``: trivial failures (uniform colour noise; smooth random-colour blobs);

and normalises the GAN's distance by the gap between real and the *nearest* trivial failure:
``relative = (fd - fd_real) / (fd_trivial - fd_real)`` (0 = as close as real images,
1 = as far as a trivial failure). A GAN **passes** when ``relative <= PASS_RELATIVE`` (0.25): it has
closed at least three quarters of the gap between a trivial failure and real images. The threshold
was fixed on real images only, before any GAN was scored. Measured on real crops of the ``yu-sources``
training region (``python benchmarks/frechet_calibration.py``: five networks, each trained on 4,000
crops for 4 epochs, 500 held-out crops per set, median network's figure): more real crops 0.003;
JPEG quality 50 0.03; Gaussian noise of 20 grey levels 0.16; Gaussian blur 0.7 / 1 / 1.5 / 2 px
0.25 / 0.44 / 0.62 / 0.74; crops of two photos no GAN sees 0.58; one crop repeated (total mode
collapse) 12. So 0.25 accepts images as sharp as real ones blurred by 0.7 px, or slightly noisier,
and rejects softer images, other content, noise, blobs and collapse.

One network's figure depends on its training seed: under five networks trained alike with seeds
0-4, the same SNGAN scored 0.22, 0.16, 1.38, 1.01 and 0.53, and blur 1 px ranges 0.24-0.45. A
:class:`QualityEnsemble` of such networks reports the median network's figure, with every
network's figure beside it (:class:`FrechetFigure`); the experiments that judge GANs by it
(``yu-sources``, ``yu-seeds``, ``seed001``) use five.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganprint.serialization import load_folder, read_json, save_folder, write_json

PASS_RELATIVE = 0.25
"""A GAN passes when ``(fd - fd_real) / (fd_trivial - fd_real) <= PASS_RELATIVE`` (module docstring)."""

KIND = "ganprint-frechet-quality"
ENSEMBLE_KIND = "ganprint-frechet-quality-ensemble"
ENSEMBLE_FILE = "ensemble.json"


@dataclass(frozen=True)
class QualityConfig:
    """How the feature network is trained: ``epochs`` over the real images (each under one random
    pretext transformation per epoch), Adam with a one-cycle schedule peaking at ``lr``, channel
    ``width`` of the first stage."""

    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    width: int = 32
    seed: int = 0


class PretextNet(nn.Module):
    """Five 3x3 conv layers (BN, ReLU; stride 2 twice) for small square RGB images and a pretext
    head. :meth:`features` returns the pooled activations of the last two stages
    (``2 * width + 4 * width`` values: 192 for width 32)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True))

        w = width
        self.stage1 = nn.Sequential(block(3, w, 1), block(w, w, 2))
        self.stage2 = nn.Sequential(block(w, 2 * w, 1), block(2 * w, 2 * w, 2))
        self.stage3 = block(2 * w, 4 * w, 1)
        self.head = nn.Linear(4 * w, len(PRETEXT_TASKS))
        self.feature_dim = 6 * w

    def _stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s2 = self.stage2(self.stage1(x))
        return s2, self.stage3(s2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        s2, s3 = self._stages(x)
        return torch.cat([s2.mean((2, 3)), s3.mean((2, 3))], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._stages(x)[1].mean((2, 3)))


def unit_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """RGB images, uint8 NHWC (or float NHWC in [0, 1]) -> float NCHW in [0, 1]."""
    x = torch.as_tensor(np.asarray(images))
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected RGB images (N, H, W, 3), got shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x.permute(0, 3, 1, 2).contiguous()


def _to_float_nchw(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 NHWC (or float NHWC in [0, 1]) -> float NCHW in [-1, 1]."""
    return unit_nchw(images) * 2 - 1


PRETEXT_TASKS = ("rot0", "rot90", "rot180", "rot270", "tiles")
"""The transformation the network learns to recognise: a rotation by 0/90/180/270 degrees, or the
four image quadrants put back in another order."""


def _swap_tiles(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    h, w = x.shape[2] // 2, x.shape[3] // 2
    tiles = [x[:, :, :h, :w], x[:, :, :h, w:2 * w], x[:, :, h:2 * h, :w], x[:, :, h:2 * h, w:2 * w]]
    order = torch.randperm(4, generator=gen)
    while bool((order == torch.arange(4)).all()):
        order = torch.randperm(4, generator=gen)
    t = [tiles[int(i)] for i in order]
    out = x.clone()
    out[:, :, :2 * h, :2 * w] = torch.cat([torch.cat(t[:2], 3), torch.cat(t[2:], 3)], 2)
    return out


def pretext_batch(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply a random :data:`PRETEXT_TASKS` transformation to each image of (N, 3, H, W) in [-1, 1];
    return the transformed batch and the task labels."""
    k = torch.randint(0, len(PRETEXT_TASKS), (len(x),), generator=gen)
    out = x.clone()
    for r in range(1, 4):
        sel = k == r
        if sel.any():
            out[sel] = torch.rot90(x[sel], r, (2, 3))
    sel = k == 4
    if sel.any():
        out[sel] = _swap_tiles(x[sel], gen)
    return out, k


@dataclass
class QualityModel:
    """A trained feature network and the facts needed to reuse it (its config and training report)."""

    net: PretextNet
    config: QualityConfig
    report: dict[str, Any]
    device: torch.device

    @torch.no_grad()
    def features(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Features (N, feature_dim) float64 of RGB images: uint8 NHWC or float NHWC in [0, 1]."""
        self.net.eval()
        x = _to_float_nchw(images)
        out = [self.net.features(x[i:i + batch_size].to(self.device)).cpu() for i in range(0, len(x), batch_size)]
        if not out:
            return np.zeros((0, self.net.feature_dim))
        return torch.cat(out).double().numpy()

    def save(self, folder: str | Path) -> Path:
        return save_folder(folder, {"kind": KIND, "config": asdict(self.config), "report": self.report},
                           {"model": self.net.state_dict()})

    @classmethod
    def load(cls, folder: str | Path, device: torch.device | str = "cpu") -> QualityModel:
        config, weights = load_folder(folder, ["model"], kind=KIND, what="a Fréchet quality model")
        qc = QualityConfig(**config["config"])
        net = PretextNet(qc.width)
        net.load_state_dict(weights["model"])
        return cls(net.to(device).eval(), qc, config.get("report", {}), torch.device(device))


def fit_quality_model(real_train_uint8_nhwc: np.ndarray, *, seed: int = 0, device: torch.device | str = "cpu",
                      config: QualityConfig | None = None) -> QualityModel:
    """Train the feature network on real images (uint8 (N, H, W, 3), square) and return it.

    90% of the images train, 10% measure the pretext accuracy reported in ``model.report``
    (a sanity figure, above the chance level 0.2; some crops, e.g. of a star field, have no "up")."""
    config = config or QualityConfig(seed=seed)
    if config.seed != seed:
        config = QualityConfig(**{**asdict(config), "seed": seed})
    device = torch.device(device)
    x = _to_float_nchw(real_train_uint8_nhwc)
    if x.shape[2] != x.shape[3]:
        raise ValueError("the rotation pretext needs square images")
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    n_val = max(1, len(x) // 10) if len(x) >= 20 else 0
    val, train = x[order[:n_val]], x[order[n_val:]]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PretextNet(config.width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    steps = config.epochs * math.ceil(len(train) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=max(1, steps), pct_start=0.15)
    net.train()
    for _ in range(config.epochs):
        perm = torch.randperm(len(train), generator=gen)
        for i in range(0, len(train), config.batch_size):
            xb = train[perm[i:i + config.batch_size]]
            if torch.rand((), generator=gen) < 0.5:
                xb = xb.flip(3)     # left-right flips keep "which way is up" intact
            xb, k = pretext_batch(xb, gen)
            loss = F.cross_entropy(net(xb.to(device)), k.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    report: dict[str, Any] = {"train_images": int(len(train)), "seed": seed}
    if n_val:
        with torch.no_grad():
            xv, kv = pretext_batch(val, torch.Generator().manual_seed(seed + 1))
            logits = torch.cat([net(xv[i:i + 256].to(device)).cpu() for i in range(0, len(xv), 256)])
        report["val_pretext_accuracy"] = float((logits.argmax(1) == kv).float().mean())
    return QualityModel(net, config, report, device)


@dataclass
class QualityEnsemble:
    """Feature networks of one recipe that differ only in their training seed. The Fréchet figure
    under an ensemble is the median of the figures under its networks (:class:`FrechetFigure`):
    one network's figure moves with its seed (the same GAN has scored 0.16 and 1.38 under two such
    networks), the median of five moves far less.

    Saved as ``net-<k>/`` model folders (:meth:`QualityModel.save`) and ``ensemble.json``."""

    models: tuple[QualityModel, ...]

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        if not self.models:
            raise ValueError("an ensemble needs at least one feature network")

    @property
    def report(self) -> dict[str, Any]:
        """Each network's training report, and their number."""
        return {"networks": len(self.models), "members": [m.report for m in self.models]}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        for k, model in enumerate(self.models):
            model.save(folder / f"net-{k}")
        _write_ensemble_index(folder, len(self.models))
        return folder


def _write_ensemble_index(folder: Path, networks: int) -> None:
    """``ensemble.json``: written last, so that a folder holding it holds all its networks."""
    write_json(folder / ENSEMBLE_FILE, {"kind": ENSEMBLE_KIND, "networks": networks})


def members(model: QualityModel | QualityEnsemble) -> tuple[QualityModel, ...]:
    """The feature networks of a single model (itself) or an ensemble."""
    return model.models if isinstance(model, QualityEnsemble) else (model,)


def load_quality_models(folder: str | Path, device: torch.device | str = "cpu") -> QualityEnsemble:
    """The ensemble saved in ``folder`` (:meth:`QualityEnsemble.save`), or a single saved
    :class:`QualityModel` as an ensemble of one (run folders written before ensembles)."""
    folder = Path(folder)
    if (folder / ENSEMBLE_FILE).is_file():
        info = read_json(folder / ENSEMBLE_FILE)
        if info.get("kind") != ENSEMBLE_KIND or not isinstance(info.get("networks"), int) or info["networks"] < 1:
            raise ValueError(f"{folder / ENSEMBLE_FILE} does not describe a Fréchet quality ensemble")
        return QualityEnsemble(tuple(QualityModel.load(folder / f"net-{k}", device=device)
                                     for k in range(info["networks"])))
    return QualityEnsemble((QualityModel.load(folder, device=device),))


def cached_quality_model(folder: str | Path, real_train: Callable[[], np.ndarray], *, seed: int = 0,
                         device: torch.device | str = "cpu", config: QualityConfig | None = None,
                         networks: int = 1) -> QualityEnsemble:
    """The ``networks`` feature networks saved in ``folder``, or trained by :func:`fit_quality_model`
    on ``real_train()`` (called only when one is missing) with seeds ``seed``, ``seed + 1``, ... and
    saved there, one at a time (an interrupted run keeps the finished ones)."""
    if networks < 1:
        raise ValueError("networks must be at least 1")
    folder = Path(folder)
    images: np.ndarray | None = None
    models = []
    for k in range(networks):
        member = folder / f"net-{k}"
        if (member / "config.json").is_file():
            model = QualityModel.load(member, device=device)
            if model.report.get("seed") == seed + k:
                models.append(model)
                continue
        if images is None:
            images = real_train()
        model = fit_quality_model(images, seed=seed + k, device=device, config=config)
        model.save(member)
        models.append(model)
    _write_ensemble_index(folder, networks)
    return QualityEnsemble(tuple(models))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between Gaussians N(mu1, cov1) and N(mu2, cov2):
    ``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``.

    The trace of the matrix square root is computed from the eigenvalues of
    ``sqrt(cov1) cov2 sqrt(cov1)`` (symmetric PSD, same spectrum as ``cov1 cov2``), which stays real
    and stable for singular covariances."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (len(mu1), len(mu1)):
        raise ValueError("mean and covariance shapes do not match")
    w, v = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ ((cov2 + cov2.T) / 2) @ root1
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * tr_sqrt))


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of (N, D) features."""
    features = np.asarray(features, np.float64)
    if len(features) < 2:
        raise ValueError("need at least two feature vectors")
    return features.mean(0), np.cov(features, rowvar=False)


def features_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


def trivial_failures(n: int, size: int, seed: int) -> dict[str, np.ndarray]:
    """Images a GAN that learned nothing might draw, uint8 (n, size, size, 3): ``noise`` (uniform
    colour noise) and ``blobs`` (one to four smooth Gaussian blobs of random colours on a random
    flat background)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    blobs = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        img = np.broadcast_to(rng.random(3), (size, size, 3)).copy()
        for _ in range(rng.integers(1, 5)):
            cy, cx = rng.random(2) * size
            s = (0.08 + 0.25 * rng.random()) * size
            a = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))[..., None]
            img = img * (1 - a) + rng.random(3) * a
        blobs[i] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    return {"noise": noise, "blobs": blobs}


@dataclass(frozen=True)
class ComparisonSets:
    """The fixed side of a relative quality figure for ``n_samples`` samples: ``n`` = min(half the
    reference, ``n_samples``, ``max_images``) images each of ``reference`` and ``real`` (two
    disjoint halves of the real reference) and of the trivial failures ``noise`` and ``blobs``, and
    ``sample_index``: which ``n`` of the ``n_samples`` samples are compared. Deterministic for a
    seed."""

    reference: np.ndarray
    real: np.ndarray
    noise: np.ndarray
    blobs: np.ndarray
    sample_index: np.ndarray
    n_samples: int

    @classmethod
    def draw(cls, real_reference: np.ndarray, n_samples: int, *, seed: int = 0,
             max_images: int | None = None) -> ComparisonSets:
        real_reference = np.asarray(real_reference)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(real_reference))
        n = min(len(real_reference) // 2, n_samples, max_images or n_samples)
        if n < 10:
            raise ValueError(f"need at least 10 samples and 20 reference images (got {n_samples}, "
                             f"{len(real_reference)})")
        failures = trivial_failures(n, real_reference.shape[1], seed + 1)
        return cls(real_reference[order[:n]], real_reference[order[n:2 * n]], failures["noise"], failures["blobs"],
                   rng.permutation(n_samples)[:n], n_samples)

    @property
    def n(self) -> int:
        return len(self.sample_index)

    def samples(self, samples: np.ndarray) -> np.ndarray:
        """The compared subset of ``samples`` (as many as the sets were drawn for)."""
        samples = np.asarray(samples)
        if len(samples) != self.n_samples:
            raise ValueError(f"these comparison sets are drawn for {self.n_samples} samples, got {len(samples)}")
        return samples[self.sample_index]


def relative_figure(value: float, real: float, noise: float, blobs: float) -> tuple[float, float]:
    """``(trivial, relative)``: the nearer trivial failure's distance, and ``value`` placed between
    the real floor (0) and it (1): ``(value - real) / (trivial - real)``."""
    trivial = min(noise, blobs)
    return trivial, (value - real) / max(trivial - real, 1e-12)


class FrechetFigure:
    """The Fréchet figure against one real reference, prepared for ``n_samples`` samples at a time:
    the reference's features and the real and trivial-failure distances are computed once, so that
    scoring many sample sets (a GAN's snapshots while it trains) costs one feature pass each.
    ``FrechetFigure(model, ref, len(samples), seed=s)(samples)`` equals
    :func:`quality_figure` ``(model, ref, samples, seed=s)``.

    Under a :class:`QualityEnsemble` each network gives its own figure on the same images, and the
    reported one is the median network's (for an even count the upper median, the stricter):
    ``fd``, ``fd_real``, ... are that network's distances, ``relative`` its relative figure and
    ``passed`` its verdict. ``networks`` lists every network's relative figure (in seed order) and
    ``networks_passing`` how many pass."""

    def __init__(self, model: QualityModel | QualityEnsemble, real_reference: np.ndarray, n_samples: int, *,
                 seed: int = 0, threshold: float = PASS_RELATIVE) -> None:
        self.models, self.threshold = members(model), threshold
        self.sets = ComparisonSets.draw(real_reference, n_samples, seed=seed)
        self._stats_a = [feature_statistics(m.features(self.sets.reference)) for m in self.models]
        self._floors = [tuple(self._fd_to_a(k, x) for x in (self.sets.real, self.sets.noise, self.sets.blobs))
                        for k in range(len(self.models))]

    def _fd_to_a(self, k: int, images: np.ndarray) -> float:
        return frechet_distance(*self._stats_a[k], *feature_statistics(self.models[k].features(images)))

    def _network_figure(self, k: int, samples: np.ndarray) -> dict[str, Any]:
        fd_real, fd_noise, fd_blobs = self._floors[k]
        fd = self._fd_to_a(k, samples)
        fd_trivial, relative = relative_figure(fd, fd_real, fd_noise, fd_blobs)
        return {"fd": fd, "fd_real": fd_real, "fd_noise": fd_noise, "fd_blobs": fd_blobs, "fd_trivial": fd_trivial,
                "relative": float(relative)}

    def __call__(self, samples: np.ndarray) -> dict[str, Any]:
        samples = self.sets.samples(samples)
        figures = [self._network_figure(k, samples) for k in range(len(self.models))]
        relatives = [f["relative"] for f in figures]
        median = figures[int(np.argsort(relatives, kind="stable")[len(figures) // 2])]
        return {**median, "threshold": self.threshold, "passed": bool(median["relative"] <= self.threshold),
                "n": self.sets.n, "networks": relatives,
                "networks_passing": int(sum(r <= self.threshold for r in relatives))}


def quality_figure(model: QualityModel | QualityEnsemble, real_reference: np.ndarray, samples: np.ndarray, *,
                   seed: int = 0, threshold: float = PASS_RELATIVE) -> dict[str, Any]:
    """The quality figure of a GAN's ``samples`` against held-out ``real_reference`` images
    (both RGB NHWC, uint8 or float in [0, 1]; the reference should come from the GAN's training
    distribution but not be its training images).

    The reference is split into two disjoint halves A and B of ``n`` images, ``n`` = min(half the
    reference, number of samples); every distance is measured against A with ``n`` images on the
    other side (B, the samples, noise, blobs), so all share the same finite-sample bias.
    Returns ``fd``, ``fd_real``, ``fd_noise``, ``fd_blobs``, ``fd_trivial``, ``relative``,
    ``threshold``, ``passed``, ``n``, ``networks`` and ``networks_passing`` (under a
    :class:`QualityEnsemble`, the median network's figure: :class:`FrechetFigure`).
    """
    samples = np.asarray(samples)
    return FrechetFigure(model, real_reference, len(samples), seed=seed, threshold=threshold)(samples)
