"""Quality gates: is a GAN producing what it was trained on, or noise?"""

# The color-GAN quality figure (imports torch lazily: only when a name is used).
__all__ = ["QualityEnsemble", "QualityModel", "cached_quality_model", "fit_quality_model", "frechet_distance",
           "load_quality_models", "quality_figure"]


def __getattr__(name: str):
    if name in __all__:
        from ganprint.quality import frechet

        return getattr(frechet, name)
    raise AttributeError(f"module 'ganprint.quality' has no attribute {name!r}")
