"""Attributor architectures (registry)."""

from ganprint.models import cnn as _cnn  # noqa: F401  (registers architectures)
from ganprint.models.registry import MODELS, create_model

__all__ = ["MODELS", "create_model"]
