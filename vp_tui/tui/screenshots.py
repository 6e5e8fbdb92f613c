"""`make screenshots`: SVGs of the dashboard's main states, from the demo cloud."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


def main() -> None:
    """Write the screenshots into the directory given (default ``screenshots``)."""
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    with tempfile.TemporaryDirectory() as data:
        os.environ["VP_DATA_DIR"] = data  # keep the user's own demo state out of it
        from vp_tui.tui.scenes import save_screenshots

        for path in asyncio.run(save_screenshots(directory.resolve())):
            print(path)


if __name__ == "__main__":
    main()
