"""The create modal: launch settings prefilled from the chosen offer, and what renting costs.

The price of the launch ($/h, $/day, how long the platform's balance lasts) is
shown before anything is rented and follows the GPU count and the bid as they
are typed. The cap and the bid are checked in place, under their fields, and
Launch stays disabled while anything is wrong. Renting takes a deliberate key:
``ctrl+s``, or ``enter`` on the Launch button; ``enter`` in a field moves on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Static

from vp_tui.core.durations import parse_duration
from vp_tui.core.launch_price import balance_lasts_seconds, launch_price, per_day
from vp_tui.core.models import LaunchSpec, Offer
from vp_tui.core.money import format_duration, format_money, format_price

LAUNCH_HINT = "ctrl+s launches · enter moves to the next field · esc cancels"
"""The dialog's own line about its keys."""

FIELDS = ("image", "disk", "label", "env", "lifetime", "gpus", "bid", "cap")
"""The form's inputs, in focus order."""


@dataclass
class CreateDefaults:
    """Per-platform defaults the form starts from."""

    image: str
    disk_gb: float
    cap: float


@dataclass
class FormCheck:
    """What the form says now: the spec to launch (None while invalid), its price,
    and what is wrong, per field (``""`` for errors that belong to no field)."""

    spec: LaunchSpec | None = None
    price: float | None = None
    gpu_count: int = 1
    errors: dict[str, str] = field(default_factory=dict)


def _number(text: str) -> float | None:
    """``text`` as a finite number, None when it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class CreateScreen(ModalScreen[LaunchSpec | None]):
    """Rent an offer: image, disk, label, env, GPUs, bid, cap; the price shown live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Don't launch", id="create.cancel"),
        Binding("ctrl+s", "launch", "Launch", priority=True, id="create.launch"),
    ]

    def __init__(self, offer: Offer, defaults: CreateDefaults) -> None:
        super().__init__()
        self.offer = offer
        self.defaults = defaults

    # ------------------------------------------------------------------ layout

    def _field(self, title: str, field_input: Input) -> Iterator[Widget]:
        """A label, its input, and the line under it that says what is wrong."""
        yield Label(title, markup=False)
        yield field_input
        error = Static("", id=f"{field_input.id}-error", classes="field-error", markup=False)
        error.display = False
        yield error

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
            yield from self._field("Image", Input(self.defaults.image, id="image"))
            with Horizontal(classes="row"):
                with Vertical():
                    yield from self._field(
                        "Disk GB", Input(f"{self.defaults.disk_gb:g}", id="disk", type="number")
                    )
                with Vertical():
                    yield from self._field("Label", Input("", id="label", placeholder="optional"))
            yield from self._field(
                "Environment (KEY=VALUE, space separated)",
                Input("", id="env", placeholder="WANDB_MODE=offline HF_HOME=/workspace/hf"),
            )
            yield from self._field(
                "Max lifetime (e.g. 8h): then it destroys itself, vp-tui or not",
                Input("", id="lifetime", placeholder="none: it runs until you destroy it"),
            )
            with Horizontal(classes="row"):
                if offer.max_gpu_count is not None:
                    with Vertical():
                        yield from self._field(
                            f"GPUs (1-{offer.max_gpu_count})",
                            Input("1", id="gpus", type="integer"),
                        )
                if offer.interruptible:
                    with Vertical():
                        bid = offer.min_bid or offer.price_per_hour
                        minimum = f", min {format_price(offer.min_bid, 4)}" if offer.min_bid else ""
                        yield from self._field(
                            f"Bid $/h (all GPUs{minimum})",
                            Input(f"{bid:.4f}", id="bid", type="number"),
                        )
                with Vertical():
                    yield from self._field(
                        "Max $/h for this launch",
                        Input(f"{self.defaults.cap:g}", id="cap", type="number"),
                    )

            yield Static("", id="create-price", markup=False)
            yield Static("", id="create-balance", markup=False)
            yield Static("", id="dialog-error", markup=False)
            yield Static(LAUNCH_HINT, id="dialog-hint", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Launch (ctrl+s)", id="launch", variant="primary")
                yield Button("Don't launch (esc)", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#image", Input).focus()
        self.show_check()

    # ------------------------------------------------------------------ events

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.show_check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # `enter` in a field never rents: it moves on (to Launch after the last field).
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without launching."""
        self.dismiss(None)

    def action_launch(self) -> None:
        """Rent with the form's settings, if they are valid; else point at what is wrong."""
        check = self.show_check()
        if check.spec is None:
            wrong = next((name for name in FIELDS if name in check.errors), None)
            if wrong is not None and self.query(f"#{wrong}"):
                self.query_one(f"#{wrong}", Input).focus()
            self.app.bell()
            return
        self.dismiss(check.spec)

    # ------------------------------------------------------------------- checks

    def _value(self, widget_id: str) -> str:
        found = self.query(f"#{widget_id}")
        return found.first(Input).value.strip() if found else ""

    def check(self) -> FormCheck:
        """Read the form: the spec and price, or what is wrong with each field."""
        offer = self.offer
        errors: dict[str, str] = {}
        image = self._value("image")
        if not image:
            errors["image"] = "The image is empty."
        disk_text = self._value("disk")
        disk = _number(disk_text) if disk_text else self.defaults.disk_gb
        if disk is None or disk <= 0:
            errors["disk"] = "Disk must be a number of GB above 0."
        env: dict[str, str] = {}
        for item in self._value("env").split():
            key, sep, value = item.partition("=")
            if not sep or not key:
                errors["env"] = f"{item!r} is not KEY=VALUE."
                break
            env[key] = value
        gpus = 1
        if offer.max_gpu_count is not None:
            try:
                gpus = int(self._value("gpus"))
            except ValueError:
                gpus = 0
            if not 1 <= gpus <= offer.max_gpu_count:
                errors["gpus"] = f"Choose 1 to {offer.max_gpu_count} GPUs."
        bid: float | None = None
        if offer.interruptible:
            bid = _number(self._value("bid"))
            if bid is None or bid <= 0:
                errors["bid"] = "Enter a bid in $/h."
            elif offer.min_bid and bid < offer.min_bid - 1e-9:
                errors["bid"] = f"Below the minimum bid of {format_price(offer.min_bid, 4)}/h."
        unpriced = "gpus" in errors or (offer.interruptible and (bid is None or bid <= 0))
        price = None if unpriced else launch_price(offer, gpus, bid)
        cap = _number(self._value("cap"))
        if cap is None or cap <= 0:
            errors["cap"] = "Enter the most $/h this launch may cost."
        elif price is not None and price > cap + 1e-9:
            shown_cap = format_price(cap, 2 if round(cap, 2) == cap else 4)
            errors["cap"] = f"{format_price(price)}/h is above the cap of {shown_cap}/h."
        lifetime: float | None = None
        if self._value("lifetime"):
            try:
                lifetime = parse_duration(self._value("lifetime"))
            except ValueError:
                errors["lifetime"] = "A duration like 45m, 8h or 1h30m (or leave it empty)."
        if errors or disk is None or cap is None:
            return FormCheck(None, price, gpus, errors)
        try:
            spec = LaunchSpec(
                image=image,
                disk_gb=disk,
                label=self._value("label") or None,
                env=env,
                gpu_count=gpus,
                bid_price=bid,
                max_price_per_hour=cap,
                max_lifetime_seconds=lifetime,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            errors[""] = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
            return FormCheck(None, price, gpus, errors)
        return FormCheck(spec, price, gpus, errors)

    def show_check(self) -> FormCheck:
        """Show the price, the balance and what is wrong; enable Launch only when valid."""
        check = self.check()
        for name in FIELDS:
            found = self.query(f"#{name}-error")
            if found:
                label = found.first(Static)
                message = check.errors.get(name, "")
                label.update(message)
                label.display = bool(message)
        general = self.query_one("#dialog-error", Static)
        general.update(check.errors.get("", ""))
        general.display = "" in check.errors
        self.query_one("#create-price", Static).update(self._price_line(check))
        self.query_one("#create-balance", Static).update(self._balance_line(check.price))
        self.query_one("#launch", Button).disabled = check.spec is None
        return check

    def _price_line(self, check: FormCheck) -> str:
        price = check.price
        if price is None:
            return "Price: - (fix the GPUs or the bid above)"
        gpus = check.gpu_count
        what = f" for {gpus} GPUs" if gpus > 1 else ""
        kind = " (your bid + storage)" if self.offer.interruptible else ""
        return f"Price{what}: {format_price(price)}/h{kind} · {format_money(per_day(price))}/day"

    def _balance_line(self, price: float | None) -> str:
        from vp_tui.tui.state import DashboardState

        platform = self.offer.platform
        state = getattr(self.app, "state", None)
        if not isinstance(state, DashboardState):
            return f"Balance on {platform}: unknown"
        account = state.accounts.get(platform)
        if account is None:
            reason = state.account_errors.get(platform) or "not fetched yet"
            return f"Balance on {platform}: unknown ({reason})"
        if account.balance is None:
            reason = account.balance_unknown or "the platform did not say"
            return f"Balance on {platform}: unknown ({reason})"
        balance = f"Balance on {platform}: {format_money(account.balance)}"
        if price is None:
            return balance
        lasts = balance_lasts_seconds(account.balance, price)
        if lasts is None:
            return balance
        if lasts <= 0:
            return f"{balance}, used up: nothing left to pay for this"
        return f"{balance}, lasts {format_duration(lasts)} at this price"
