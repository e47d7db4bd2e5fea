"""Attributor architectures (registry).

Importing this package registers every architecture; ``timm`` itself is imported only when a
timm-based model is built.
"""

from ganprint.models import cnn as _cnn  # noqa: F401  (registers architectures)
from ganprint.models import forensic as _forensic  # noqa: F401
from ganprint.models import gpnet as _gpnet  # noqa: F401
from ganprint.models import timm_zoo as _timm_zoo  # noqa: F401
from ganprint.models.base import FeatureHeadClassifier, PooledClassifier
from ganprint.models.registry import (
    MODELS,
    ArchInfo,
    arch_info,
    create_model,
    default_fit_options,
    default_representation,
    names_with_tag,
    register_model,
)

__all__ = [
    "MODELS",
    "ArchInfo",
    "FeatureHeadClassifier",
    "PooledClassifier",
    "arch_info",
    "create_model",
    "default_fit_options",
    "default_representation",
    "names_with_tag",
    "register_model",
]
