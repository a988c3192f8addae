"""Fixtures shared by every test directory."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (restored afterwards): small models on a shared 2-core machine run
    15-20x slower with two OpenMP threads (oversubscription). Use with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
