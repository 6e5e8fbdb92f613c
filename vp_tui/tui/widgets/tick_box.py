"""A checkbox that reads ticked or unticked without colour: ``[✓]`` or ``[ ]``."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    """Textual's Checkbox, whose mark says its state in the glyph itself.

    The stock Checkbox draws the same ``X`` for on and off and tells them apart by
    colour only, which a monochrome terminal, a screenshot in grey or a colour-blind
    eye loses. This one draws ``✓`` when ticked and a blank when not.
    """

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        return Content.assemble(
            ("[", button_style),
            ("✓" if self.value else " ", button_style),
            ("]", button_style),
        )
