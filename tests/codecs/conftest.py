"""Fixtures of the codec tests."""

import gin
import pytest


@pytest.fixture(autouse=True)
def fresh_gin_config():
    """Each codec test starts and ends with an empty gin config: the codec configs are
    gin-configurable, so a gin file one test parses (rqvae_tiny.gin's 64 codes) would
    otherwise change what `RQVAEConfig()` means in the next."""
    gin.clear_config()
    yield
    gin.clear_config()
