"""A string feature as Python text, whether tf.data gave it as bytes, a numpy scalar or str."""

import numpy as np


def as_text(value) -> str:
    """``value`` (bytes, a 0-d numpy array of bytes or str, or anything printable) as str."""
    if isinstance(value, np.ndarray):
        value = value.item()
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
