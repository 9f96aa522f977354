"""Shared test configuration.

Hypothesis runs derandomized so that every run of the suite (and CI) sees the
same examples; set HYPOTHESIS_PROFILE=explore to search with fresh randomness.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", deadline=None, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
