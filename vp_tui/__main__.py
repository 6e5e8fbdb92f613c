"""`python -m vp_tui` starts the dashboard."""

from __future__ import annotations

from vp_tui.tui.__main__ import main

if __name__ == "__main__":
    main()
