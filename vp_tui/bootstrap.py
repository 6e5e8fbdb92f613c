"""The composition root: settings -> platforms -> services, for both faces."""

from __future__ import annotations

from dataclasses import dataclass

from vp_tui.config import LoadedConfig, Settings, load_config


@dataclass
class Context:
    """What a face (`vp` or `vp-tui`) works with."""

    settings: Settings
    demo: bool
    """True when the embedded demo cloud stands in for real accounts."""


def decide_demo(settings: Settings, demo_flag: bool) -> bool:
    """Demo mode: asked for, configured as the default platform, or no API key at all."""
    return demo_flag or settings.general.default_platform == "demo" or not settings.has_any_key()


def build_context(demo: bool = False, loaded: LoadedConfig | None = None) -> Context:
    """Load settings and decide between the real platforms and the demo cloud."""
    loaded = loaded or load_config()
    return Context(settings=loaded.settings, demo=decide_demo(loaded.settings, demo))
