import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tinyreptile_ref import get_backend

# Thousands of examples per kernel in CI; `HYPOTHESIS_PROFILE=dev` for quick local runs.
settings.register_profile("ci", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def npb():
    return get_backend("numpy")


@pytest.fixture(scope="session")
def cb():
    return get_backend("c")


@pytest.fixture(params=["numpy", "c"])
def backend(request):
    return get_backend(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(20231)
