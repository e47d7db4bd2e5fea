"""The generalisation suite: generator families the zoo does not have, and folder
datasets built from them and from real images, for choosing attributor defaults on data they were
not tuned on."""

from ganprint.suite.generators import (
    SUITE_GENERATORS,
    SuiteModel,
    SuiteTrainConfig,
    create_suite_generator,
    load_suite_model,
    sample_images,
    save_suite_model,
    train_generator,
)

__all__ = [
    "SUITE_GENERATORS",
    "SuiteModel",
    "SuiteTrainConfig",
    "create_suite_generator",
    "load_suite_model",
    "sample_images",
    "save_suite_model",
    "train_generator",
]
