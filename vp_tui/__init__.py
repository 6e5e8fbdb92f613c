"""vp-tui: one terminal for renting GPUs on Vast.ai and RunPod."""

from __future__ import annotations

__version__ = "0.1.0"
