"""Session setup for every test, notebooks included: never touch the user's ~/.botarmy."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Kernels started by nbval inherit this, so example notebooks run in a throwaway home.
    os.environ["BOTARMY_HOME"] = tempfile.mkdtemp(prefix="botarmy-test-home-")
    os.environ.pop("BOTARMY_DATABASE_URL", None)
    # quick retries in tests (Retry-After from the fake servers is 0.2 s, below the cap)
    os.environ["BOTARMY_RETRY_BASE_S"] = "0.01"
    os.environ["BOTARMY_RETRY_MAX_S"] = "1.0"
