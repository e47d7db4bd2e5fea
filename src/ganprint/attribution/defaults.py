"""Default values shared by the library and the command line, in a module that imports nothing
heavy (the CLI reads them when it starts)."""

AUTO_ARCH = "auto"
"""``train --arch`` value that trains the default candidates and keeps the best on validation."""

TARGET_FPR = 0.01
"""Default share of real images that the operating threshold of ``p_fake`` may call fake."""
