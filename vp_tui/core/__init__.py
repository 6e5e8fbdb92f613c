"""The pure domain of vp-tui: models, the GPU catalog and money arithmetic.

Nothing here does I/O or imports anything of the project outside ``core``.
"""
