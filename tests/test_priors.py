import pytest
import torch

from ganprint.gans import create_gan
from ganprint.gans.priors import MixturePrior, build_prior


def test_mixture_prior_draws_each_component_about_equally_around_its_mean():
    torch.manual_seed(0)
    prior = MixturePrior(latent_dim=100, components=10, sigma=0.01)
    z = torch.randn(20_000, 100, generator=torch.Generator().manual_seed(1))
    k = prior.component(z)
    counts = torch.bincount(k, minlength=10).float() / len(z)
    assert counts.min() > 0.08 and counts.max() < 0.12
    with torch.no_grad():
        out = prior(z)
    # every latent lands next to the mean of its own component, far from the others
    nearest = torch.cdist(out, prior.mu).argmin(1)
    assert torch.equal(nearest, k)
    assert torch.equal(prior(z[:5]), prior(z[:5]))  # a deterministic function of z


def test_mixture_prior_is_learned_with_the_generator():
    torch.manual_seed(0)
    spec = create_gan("mnist-dcgan", width=0.125, prior="mixture", prior_components=4)
    spec.generator(torch.randn(8, 100)).sum().backward()
    prior = spec.generator.prior
    assert prior.mu.grad is not None and prior.mu.grad.abs().sum() > 0
    assert prior.log_sigma.grad is not None and prior.log_sigma.grad.abs().sum() > 0


def test_the_default_prior_leaves_the_seed_generator_unchanged():
    seed_g = create_gan("mnist-dcgan").generator
    assert sum(p.numel() for p in seed_g.parameters()) == 1_164_289
    assert not any(k.startswith("prior.") for k in seed_g.state_dict())
    mixed = create_gan("mnist-dcgan", prior="mixture", prior_components=10).generator
    assert sum(p.numel() for p in mixed.parameters()) == 1_164_289 + 2 * 10 * 100


def test_prior_options_are_checked():
    with pytest.raises(ValueError, match="prior"):
        build_prior("uniform", 100)
    with pytest.raises(ValueError, match="components"):
        MixturePrior(100, components=1)
    with pytest.raises(ValueError, match="components"):
        MixturePrior(10, components=11)
    with pytest.raises(ValueError, match="sigma"):
        MixturePrior(100, sigma=0.0)
