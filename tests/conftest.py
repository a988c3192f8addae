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


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Each test starts without accelerate's process-wide state: an ``Accelerator`` keeps its mixed precision
    in a shared singleton, so a test training in bf16 after one that trained in fp32 (in one pytest process)
    would be refused. The process group part (``PartialState``) is kept. This is accelerate's own test-suite
    practice; the library itself never resets it."""
    yield
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state()
    GradientState._reset_state()
