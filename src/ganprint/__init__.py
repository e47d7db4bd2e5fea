"""ganprint: was an image made by a generative model, and by which one?"""

__version__ = "0.1.0"
