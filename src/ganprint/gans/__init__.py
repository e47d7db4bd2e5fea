"""GAN zoo: architectures, training with checkpoints, sampling to folders."""

from ganprint.gans import cifar_dcgan as _cifar_dcgan  # noqa: F401  (registers architectures)
from ganprint.gans import cramergan as _cramergan  # noqa: F401
from ganprint.gans import mmdgan as _mmdgan  # noqa: F401
from ganprint.gans import mnist_dcgan as _mnist_dcgan  # noqa: F401
from ganprint.gans import mnist_mlpgan as _mnist_mlpgan  # noqa: F401
from ganprint.gans import mnist_sgan as _mnist_sgan  # noqa: F401
from ganprint.gans import progan as _progan  # noqa: F401
from ganprint.gans import sngan as _sngan  # noqa: F401
from ganprint.gans.registry import GANS, GanSpec, create_gan

__all__ = ["GANS", "GanSpec", "create_gan"]
