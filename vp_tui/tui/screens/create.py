"""The create modal: launch settings prefilled from the chosen offer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from vp_tui.core.models import LaunchSpec, Offer
from vp_tui.core.money import format_price


@dataclass
class CreateDefaults:
    """Per-platform defaults the form starts from."""

    image: str
    disk_gb: float
    cap: float


class CreateScreen(ModalScreen[LaunchSpec | None]):
    """Rent an offer: image, disk, label, env, GPUs, bid; `enter` launches."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="create.cancel"),
        Binding("ctrl+s", "launch", "Launch", id="create.launch"),
    ]

    def __init__(self, offer: Offer, defaults: CreateDefaults) -> None:
        super().__init__()
        self.offer = offer
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        offer = self.offer
        count = f"{offer.gpu_count}x " if offer.max_gpu_count is None else ""
        where = offer.location or offer.cloud or ""
        with Vertical(id="dialog"):
            yield Static(
                f"Create on {offer.platform}: {count}{offer.label} "
                f"{format_price(offer.price_per_hour)}/h {where}",
                id="dialog-title",
                markup=False,
            )
            yield Label("Image")
            yield Input(self.defaults.image, id="image")
            with Horizontal(classes="row"):
                with Vertical():
                    yield Label("Disk GB")
                    yield Input(f"{self.defaults.disk_gb:g}", id="disk", type="number")
                with Vertical():
                    yield Label("Label")
                    yield Input("", id="label", placeholder="optional")
            yield Label("Environment (KEY=VALUE, space separated)")
            yield Input("", id="env", placeholder="WANDB_MODE=offline HF_HOME=/workspace/hf")
            with Horizontal(classes="row"):
                if offer.max_gpu_count is not None:
                    with Vertical():
                        yield Label(f"GPUs (1-{offer.max_gpu_count})")
                        yield Input("1", id="gpus", type="integer")
                if offer.interruptible:
                    with Vertical():
                        yield Label("Bid $/h (all GPUs)")
                        bid = offer.min_bid or offer.price_per_hour
                        yield Input(f"{bid:.4f}", id="bid", type="number")
                with Vertical():
                    yield Label("Max $/h for this launch")
                    yield Input(f"{self.defaults.cap:g}", id="cap", type="number")
            yield Static("", id="dialog-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Launch (enter)", id="launch", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#image", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without launching."""
        self.dismiss(None)

    def _value(self, widget_id: str) -> str:
        found = self.query(f"#{widget_id}")
        return found.first(Input).value.strip() if found else ""

    def action_launch(self) -> None:
        """Validate the form and close with the launch spec."""
        error = self.query_one("#dialog-error", Static)
        try:
            env: dict[str, str] = {}
            for item in self._value("env").split():
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise ValueError(f"environment entry {item!r} is not KEY=VALUE")
                env[key] = value
            gpus = int(self._value("gpus") or 1)
            bid = float(self._value("bid")) if self._value("bid") else None
            spec = LaunchSpec(
                image=self._value("image"),
                disk_gb=float(self._value("disk") or self.defaults.disk_gb),
                label=self._value("label") or None,
                env=env,
                gpu_count=gpus,
                bid_price=bid if self.offer.interruptible else None,
                max_price_per_hour=float(self._value("cap") or self.defaults.cap),
            )
            if not spec.image:
                raise ValueError("the image is empty")
        except ValidationError as exc:
            first = exc.errors()[0]
            error.update(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
            return
        except ValueError as exc:
            error.update(str(exc))
            return
        self.dismiss(spec)
