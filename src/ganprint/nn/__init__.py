"""Building blocks shared by GANs and attributors."""
