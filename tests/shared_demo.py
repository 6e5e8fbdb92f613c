"""One demo cloud per test module, emptied for each test: for the adapter tests.

Use it with ``pytest_plugins = ["shared_demo"]``. Starting a demo cloud per test
costs more than the tests themselves; a module's tests share one and each starts
from no instances and no faults.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vp_tui.sim.server import DemoCloud


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCloud]:
    """The module's demo cloud (seeded market, fast boots)."""
    with DemoCloud(tmp_path_factory.mktemp("cloud") / "demo", seed=7, boot_seconds=0.3) as cloud:
        yield cloud


@pytest.fixture
def cloud(demo: DemoCloud) -> Iterator[DemoCloud]:
    """The shared demo cloud, emptied and without faults for each test."""
    demo.set_faults(None)
    demo.reset()
    yield demo
    demo.set_faults(None)
