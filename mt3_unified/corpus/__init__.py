"""Paired corpora: score systems as image, LMX, notes and audio, built as TFDS datasets."""
