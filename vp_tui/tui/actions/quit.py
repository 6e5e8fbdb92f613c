"""Quitting: at once when nothing bills, otherwise after asking what to do with what does.

The question comes from the instances as last listed (stale rows of a platform
that stopped answering included): anything whose hourly rate is above zero,
stopped instances billing their disk too. Stopping and destroying from the
dialog are verified like everywhere else; the app quits only once they are.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from vp_tui.core.costs import hourly_rate
from vp_tui.tui.base import DashboardBase

if TYPE_CHECKING:
    from vp_tui.core.models import Instance
    from vp_tui.tui.screens.quit import Verb


class QuitActions(DashboardBase):
    """`q`: quit, after the quit dialog when instances are billing."""

    async def action_quit(self) -> None:
        """Quit; with instances billing, first ask whether to leave, stop or destroy them."""
        from vp_tui.tui.screens.quit import QuitScreen

        if self.stopping or isinstance(self.screen, QuitScreen):
            self.quit_now()  # `q` again: quit, leaving them as they are
            return
        billing = [i for i in self.state.fleet.instances if hourly_rate(i) > 0]
        if self.context is None or not billing:
            self.quit_now()
            return
        screen = QuitScreen(billing, self.state.fleet.unknown, self.tear_down_for_quit)
        self.push_screen(screen, self._after_quit_dialog)

    def quit_now(self) -> None:
        """End every wait and leave."""
        self.begin_shutdown()
        self.exit()

    def _after_quit_dialog(self, leave: bool | None) -> None:
        if leave:
            self.quit_now()
        else:
            self.request_fetch("instances")  # show what a stop or destroy changed

    def tear_down_for_quit(
        self, instance: Instance, verb: Verb, stop: threading.Event
    ) -> Instance | None:
        """Stop or destroy ``instance`` and verify it (runs on the dialog's worker thread)."""
        fleet = self.engine.fleet
        if verb == "stop":
            return fleet.stop(
                instance.instance_id, instance.platform, timeout=self.destroy_timeout, stop=stop
            )
        fleet.destroy(
            instance.instance_id, instance.platform, timeout=self.destroy_timeout, stop=stop
        )
        store = self.engine.job_service.store
        store.mark_gone(instance.platform, instance.instance_id)
        store.remove_pending_launch(instance.platform, instance.instance_id)
        return None
