"""Adversarial objectives: what the critic and the generator minimise, by name.

Each GAN family of the zoo declares its objective (:attr:`ganprint.gans.registry.GanSpec.objective`);
:class:`~ganprint.gans.trainer.GanTrainer` asks it for the two losses of a step. An objective sees
the discriminator only as ``critic``, a function from images to outputs (DiffAugment, when
configured, is already folded in), so the same code serves every architecture.

* ``bce`` -- the non-saturating GAN of Goodfellow et al. (2014): binary cross-entropy on logits.
* ``wgan-gp`` -- Wasserstein critic with gradient penalty (Gulrajani et al. 2017), plus ProGAN's
  drift term ``drift * E[D(x)^2]`` (Karras et al. 2018) that keeps the critic's output near 0.
* ``hinge`` -- the hinge loss of SNGAN (Miyato et al. 2018; Lim & Ye 2017).
* ``cramer-gp`` -- the Cramér GAN (Bellemare et al. 2017): the critic ``h`` maps images to
  features; the generator minimises an energy-distance estimate built from two independent
  generator batches, the critic maximises the surrogate ``f(x_r) - f(x_g)`` with
  ``f(x) = ||h(x) - h(x'_g)|| - ||h(x)||`` under a gradient penalty on ``f``.
* ``mmd-gp`` -- MMD GAN with gradient penalty (Bińkowski et al. 2018): squared MMD (unbiased
  estimate) with a mixture of rational-quadratic kernels on the critic's features, i.e. a learned
  kernel; the penalty is on the gradient of the MMD witness function.

All randomness (the gradient penalty's interpolation weights) is drawn from the ``gen`` the trainer
passes, which it checkpoints, so a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from ganprint.registry import Registry

Critic = Callable[[torch.Tensor], torch.Tensor]


class Objective(Protocol):
    """The two losses of one training step.

    ``fakes`` holds ``n_fakes`` generator batches, each the size of ``real``. ``joint`` says the
    critic may see real and generated images in one batch (False when it has batch norm, which
    would tell them apart by batch statistics).
    """

    n_fakes: int
    default_gp_weight: float

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor: ...

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor: ...


OBJECTIVES: Registry[Objective] = Registry("GAN objective")


def create_objective(name: str, **options: float) -> Objective:
    """An objective by name (``bce``, ``wgan-gp``, ``hinge``, ``cramer-gp``, ``mmd-gp``)."""
    return OBJECTIVES.create(name, **options)


# -- shared pieces ---------------------------------------------------------------------------------
def _real_fake_outputs(critic: Critic, real: torch.Tensor, fake: torch.Tensor,
                       joint: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``critic(real), critic(fake)``, in one batch when ``joint`` (one pass is cheaper on the CPU)."""
    if not joint:
        return critic(real), critic(fake)
    out = critic(torch.cat([real, fake]))
    return out[: len(real)], out[len(real):]


def interpolate(real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random points on the lines between paired real and generated images (Gulrajani et al. 2017)."""
    eps = torch.rand(len(real), 1, 1, 1, generator=gen, device=gen.device).to(real.device, real.dtype)
    return (eps * real + (1.0 - eps) * fake).detach().requires_grad_(True)


def gradient_penalty(f: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
                     target: float = 1.0) -> torch.Tensor:
    """``E[(||grad_x f(x)||_2 - target)^2] / target^2`` over ``points``, differentiable in ``f``'s parameters.

    ``target`` 1 is Gulrajani et al.'s penalty; ProGAN's code calls ``target`` ``wgan_target``
    (gamma), a larger value lets the critic be steeper while keeping the penalty's scale.

    ``f`` must map each point to a value that depends on that point only (row ``i`` of the output
    on row ``i`` of the input), so that the gradient of the sum is each point's own gradient.
    """
    out = f(points)
    (grad,) = torch.autograd.grad(out.sum(), points, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - target).square().mean() / target**2


# -- bce -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BCE:
    """Non-saturating GAN loss: ``D`` classifies real (1) against generated (0) on logits.

    A ``gp_weight`` ``gamma > 0`` adds the R1 penalty ``gamma / 2 * E||grad_x D(x)||^2`` on real
    images (Mescheder et al. 2018), which keeps the discriminator from growing steep around the
    data; the default is 0 (the plain loss of the seeds).
    """

    n_fakes: int = 1
    default_gp_weight: float = 0.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor:
        fake = fakes[0]
        if gp_weight:
            real = real.detach().requires_grad_(True)
        d_real, d_fake = _real_fake_outputs(critic, real, fake, joint)
        loss = 0.5 * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                      + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        if gp_weight:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            loss = loss + 0.5 * gp_weight * grad.flatten(1).square().sum(dim=1).mean()
        return loss

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(critic(fakes[0]), torch.ones(len(fakes[0]), 1, device=real.device))


# -- wgan-gp ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WGANGP:
    """Wasserstein critic loss ``E[D(g)] - E[D(x)]`` + gradient penalty (towards gradient norm
    ``gp_target``) + ``drift * E[D(x)^2]``."""

    drift: float = 0.0
    gp_target: float = 1.0
    n_fakes: int = 1
    default_gp_weight: float = 10.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor:
        d_real, d_fake = _real_fake_outputs(critic, real, fakes[0], joint)
        loss = d_fake.mean() - d_real.mean()
        if self.drift:
            loss = loss + self.drift * d_real.square().mean()
        if gp_weight:
            loss = loss + gp_weight * gradient_penalty(critic, interpolate(real, fakes[0], gen), self.gp_target)
        return loss

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor:
        return -critic(fakes[0]).mean()


# -- hinge -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hinge:
    """Critic: ``E[relu(1 - D(x))] + E[relu(1 + D(g))]``; generator: ``-E[D(g)]`` (Miyato et al. 2018)."""

    n_fakes: int = 1
    default_gp_weight: float = 0.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor:
        d_real, d_fake = _real_fake_outputs(critic, real, fakes[0], joint)
        loss = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
        if gp_weight:
            loss = loss + gp_weight * gradient_penalty(critic, interpolate(real, fakes[0], gen))
        return loss

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor:
        return -critic(fakes[0]).mean()


# -- cramer-gp -------------------------------------------------------------------------------------
def _norm(x: torch.Tensor) -> torch.Tensor:
    """Row-wise Euclidean norm of features (N, K) -> (N,)."""
    return x.flatten(1).norm(dim=1)


def cramer_generator_loss(h_real: torch.Tensor, h_fake: torch.Tensor, h_fake2: torch.Tensor) -> torch.Tensor:
    """Energy distance estimate ``E||h(x)-h(g)|| + E||h(x)-h(g')|| - E||h(g)-h(g')||`` (Bellemare et al., Alg. 1)."""
    return (_norm(h_real - h_fake) + _norm(h_real - h_fake2) - _norm(h_fake - h_fake2)).mean()


def cramer_critic(h: torch.Tensor, h_fake2: torch.Tensor) -> torch.Tensor:
    """The Cramér critic ``f(x) = ||h(x) - h(g')|| - ||h(x)||`` for features ``h`` of x, row by row."""
    return _norm(h - h_fake2) - _norm(h)


@dataclass(frozen=True)
class CramerGP:
    """Cramér GAN: critic maximises ``f(x_r) - f(x_g)`` with a gradient penalty on ``f``; generator
    minimises the energy distance estimate of two independent generator batches ``g, g'``."""

    n_fakes: int = 2
    default_gp_weight: float = 10.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor:
        fake, fake2 = fakes
        h_real, h_fake, h_fake2 = _features(critic, (real, fake, fake2), joint)
        surrogate = (cramer_critic(h_real, h_fake2) - cramer_critic(h_fake, h_fake2)).mean()
        loss = -surrogate
        if gp_weight:
            loss = loss + gp_weight * gradient_penalty(lambda x: cramer_critic(critic(x), h_fake2),
                                                       interpolate(real, fake, gen))
        return loss

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor:
        return cramer_generator_loss(*_features(critic, (real, *fakes), joint))


def _features(critic: Critic, batches: Sequence[torch.Tensor], joint: bool) -> list[torch.Tensor]:
    """The critic's features of each batch, in one pass when ``joint``."""
    if not joint:
        return [critic(b) for b in batches]
    return list(critic(torch.cat(list(batches))).split([len(b) for b in batches]))


# -- mmd-gp ----------------------------------------------------------------------------------------
RQ_ALPHAS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Rational-quadratic mixture of Bińkowski et al. (2018), Section 5."""


def rq_kernel(a: torch.Tensor, b: torch.Tensor, alphas: Sequence[float] = RQ_ALPHAS) -> torch.Tensor:
    """Mixture of rational-quadratic kernels ``sum_alpha (1 + ||a-b||^2 / (2 alpha))^-alpha``: (N, M)."""
    a, b = a.flatten(1), b.flatten(1)
    d2 = (a.square().sum(1, keepdim=True) + b.square().sum(1)[None, :] - 2.0 * a @ b.T).clamp_min(0.0)
    return sum((1.0 + d2 / (2.0 * alpha)).pow(-alpha) for alpha in alphas)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, kernel: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                  = rq_kernel) -> torch.Tensor:
    """Unbiased estimate of the squared MMD between samples ``x`` (M, K) and ``y`` (N, K) (Gretton et al. 2012)."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD needs at least two samples on each side")
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    return ((k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
            + (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
            - 2.0 * k_xy.mean())


@dataclass(frozen=True)
class MMDGP:
    """MMD GAN: critic maximises ``MMD^2(h(x), h(g))`` under a gradient penalty on the witness
    ``w(t) = mean_i k(h(t), h(x_i)) - mean_j k(h(t), h(g_j))``; generator minimises ``MMD^2``."""

    n_fakes: int = 1
    default_gp_weight: float = 1.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                    joint: bool, gp_weight: float, gen: torch.Generator) -> torch.Tensor:
        h_real, h_fake = _features(critic, (real, fakes[0]), joint)
        loss = -mmd2_unbiased(h_real, h_fake)
        if gp_weight:
            def witness(t: torch.Tensor) -> torch.Tensor:
                ht = critic(t)
                return rq_kernel(ht, h_real).mean(1) - rq_kernel(ht, h_fake).mean(1)

            loss = loss + gp_weight * gradient_penalty(witness, interpolate(real, fakes[0], gen))
        return loss

    def generator_loss(self, critic: Critic, real: torch.Tensor, fakes: Sequence[torch.Tensor], *,
                       joint: bool) -> torch.Tensor:
        h_real, h_fake = _features(critic, (real, fakes[0]), joint)
        return mmd2_unbiased(h_real, h_fake)


OBJECTIVES.register("bce")(BCE)
OBJECTIVES.register("wgan-gp")(WGANGP)
OBJECTIVES.register("hinge")(Hinge)
OBJECTIVES.register("cramer-gp")(CramerGP)
OBJECTIVES.register("mmd-gp")(MMDGP)
