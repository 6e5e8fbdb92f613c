"""The composition root: settings -> platforms (real, or the demo cloud) -> services.

Both faces start here. Production code never knows whether it talks to a real
provider or to the demo cloud: in demo mode the same adapters are pointed at
the emulators' loopback URLs with the demo keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from vp_tui.config import LoadedConfig, Settings, load_config
from vp_tui.core.models import PlatformName
from vp_tui.logs import register_secrets
from vp_tui.platforms.base import Platform
from vp_tui.remote.keys import resolve_identity
from vp_tui.remote.readiness import command_probe
from vp_tui.services.fleet import Fleet
from vp_tui.services.guards import Guards
from vp_tui.services.jobs import Jobs
from vp_tui.services.ledger import Ledger
from vp_tui.services.market import Market
from vp_tui.services.store import Store

if TYPE_CHECKING:
    from vp_tui.sim.server import DemoCloud


@dataclass
class Context:
    """What a face (`vp` or `vp-tui`) works with."""

    settings: Settings
    demo: bool
    """True when the embedded demo cloud stands in for real accounts."""
    platforms: dict[PlatformName, Platform] = field(default_factory=dict)
    market: Market = field(default_factory=lambda: Market({}))
    fleet: Fleet = field(default_factory=lambda: Fleet({}))
    jobs: Jobs | None = None
    guards: Guards | None = None
    demo_cloud: DemoCloud | None = None
    owns_demo_cloud: bool = False

    @property
    def job_service(self) -> Jobs:
        """The jobs service (always set by ``build_context``)."""
        if self.jobs is None:
            raise RuntimeError("context has no jobs service")
        return self.jobs

    @property
    def default_platform(self) -> PlatformName | None:
        """The platform for commands given none: the configured one if enabled."""
        configured = self.settings.general.default_platform
        if configured in self.platforms:
            return configured
        return next(iter(self.platforms), None)

    def close(self) -> None:
        """Stop what this context started (the demo cloud)."""
        if self.jobs is not None:
            self.jobs.close()
        if self.demo_cloud is not None and self.owns_demo_cloud:
            self.demo_cloud.stop()
            self.demo_cloud = None


def decide_demo(settings: Settings, demo_flag: bool) -> bool:
    """Demo mode: asked for, configured as the default platform, or no API key at all."""
    return demo_flag or settings.general.default_platform == "demo" or not settings.has_any_key()


def demo_settings(settings: Settings, cloud: DemoCloud) -> Settings:
    """``settings`` with both platforms pointed at the demo cloud and its keys."""
    from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY

    vast = settings.vast.model_copy(
        update={"api_key": SecretStr(VAST_DEMO_KEY), "api_url": cloud.vast_url}
    )
    runpod = settings.runpod.model_copy(
        update={"api_key": SecretStr(RUNPOD_DEMO_KEY), "api_url": cloud.runpod_url}
    )
    return settings.model_copy(update={"vast": vast, "runpod": runpod})


def make_platforms(settings: Settings) -> dict[PlatformName, Platform]:
    """Adapters for every platform that has an API key (SDKs are imported on first use)."""
    from vp_tui.platforms.runpod import RunPodPlatform
    from vp_tui.platforms.vast import VastPlatform

    platforms: dict[PlatformName, Platform] = {}
    if settings.vast.api_key is not None:
        platforms["vast"] = VastPlatform(settings.vast)
    if settings.runpod.api_key is not None:
        platforms["runpod"] = RunPodPlatform(settings.runpod)
    return platforms


def build_context(
    demo: bool = False,
    loaded: LoadedConfig | None = None,
    *,
    demo_cloud: DemoCloud | None = None,
    data_dir: Path | None = None,
) -> Context:
    """Load settings, choose real platforms or the demo cloud, and wire the services.

    ``demo_cloud`` lets tests (and `vp demo serve`) share one running demo cloud;
    ``data_dir`` keeps the job store and logs somewhere else than the user's data dir.
    """
    loaded = loaded or load_config()
    settings = loaded.settings
    register_secrets(
        key.get_secret_value()
        for key in (settings.vast.api_key, settings.runpod.api_key)
        if key is not None
    )
    use_demo = demo_cloud is not None or decide_demo(settings, demo)
    owns = False
    if use_demo:
        if demo_cloud is None:
            from vp_tui.sim.server import DemoCloud

            demo_cloud = DemoCloud().start()
            owns = True
        settings = demo_settings(settings, demo_cloud)
    platforms = make_platforms(settings)
    ssh = settings.ssh

    def public_key() -> str:
        return resolve_identity(ssh).public_key()

    store = Store(data_dir / "vp-tui.sqlite3" if data_dir else None)
    fleet = Fleet(
        platforms, probe=command_probe(settings), public_key=public_key, ledger=Ledger(store)
    )
    jobs = Jobs(settings, fleet, store, logs_dir=data_dir / "jobs" if data_dir else None)
    return Context(
        settings=settings,
        demo=use_demo,
        platforms=platforms,
        market=Market(platforms, store=store),
        fleet=fleet,
        jobs=jobs,
        guards=Guards(
            settings,
            fleet,
            jobs,
            state_path=data_dir / "guard-state.json" if data_dir else None,
        ),
        demo_cloud=demo_cloud,
        owns_demo_cloud=owns,
    )


def start_demo_cloud() -> DemoCloud:
    """Start the demo cloud on its own (for `vp demo serve`)."""
    from vp_tui.sim.server import DemoCloud

    return DemoCloud().start()


def demo_keys() -> tuple[str, str]:
    """The demo cloud's (Vast, RunPod) API keys: public, they open nothing real."""
    from vp_tui.sim.server import RUNPOD_DEMO_KEY, VAST_DEMO_KEY

    return VAST_DEMO_KEY, RUNPOD_DEMO_KEY


def reset_demo_cloud() -> None:
    """Forget every demo instance, job and key."""
    from vp_tui.sim.server import DemoCloud

    DemoCloud().reset()


def frozen_demo_context(
    state_dir: Path,
    *,
    clock: Callable[[], float],
    seed: int = 7,
    faults: str = "",
) -> Context:
    """The engine on a private demo cloud that keeps the time ``clock`` says (epoch s).

    Used for screenshots and snapshot tests: with a clock that stands still, the
    market, instance lifecycles and balances are the same on every run.
    Instances boot at once.
    """
    from vp_tui.sim.server import DemoCloud

    cloud = DemoCloud(state_dir / "demo", seed=seed, boot_seconds=0.0, faults=faults, clock=clock)
    context = build_context(demo_cloud=cloud.start(), data_dir=state_dir)
    context.owns_demo_cloud = True
    if context.fleet.ledger is not None:  # the spend ledger keeps the same time
        context.fleet.ledger.clock = lambda: datetime.fromtimestamp(clock(), UTC)
    return context
