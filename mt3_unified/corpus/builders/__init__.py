"""TFDS builders: the synthetic corpus and the paper's datasets read from local files."""
