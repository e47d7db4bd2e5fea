"""Quality gates: is a GAN producing what it was trained on, or noise?"""
