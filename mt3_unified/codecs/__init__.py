"""Discrete codecs: residual VQ, the image RQ-VAE and the audio codec, and baking codes."""
