"""Sync actions: push the project to the highlighted instance, pull results back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from textual import work

from vp_tui.core.cancel import Cancelled
from vp_tui.core.models import Instance
from vp_tui.core.sizes import describe_transfer
from vp_tui.tui.base import DashboardBase, user_errors
from vp_tui.tui.messages import ActionFailed

if TYPE_CHECKING:
    from vp_tui.remote.sync import SyncResult

Direction = Literal["push", "pull"]


class SyncActions(DashboardBase):
    """`u` pushes, `p` pulls; a worker moves the files and says what moved."""

    def action_push_files(self) -> None:
        """Push the project to the highlighted instance."""
        instance = self.current_instance()
        if instance is not None:
            self.sync_files(instance, "push")

    def action_pull_files(self) -> None:
        """Pull results from the highlighted instance into the project."""
        instance = self.current_instance()
        if instance is not None:
            self.sync_files(instance, "pull")

    @work(thread=True, group="sync", exit_on_error=False)
    def sync_files(self, instance: Instance, direction: Direction) -> None:
        """Push or pull, then say what moved (cancelled when the app quits)."""
        service = self.engine.job_service
        doing = (
            f"Pushing to {instance.name}…"
            if direction == "push"
            else f"Pulling from {instance.name}…"
        )
        self.notify(doing, title="Sync", timeout=2)
        try:
            if direction == "push":
                result = service.push(instance, self.project, stop=self.stop_event)
            else:
                result = service.pull(instance, self.project, stop=self.stop_event)
        except Cancelled:
            return
        except user_errors() as exc:
            self.post_message(ActionFailed(f"{direction.capitalize()} failed", str(exc)))
            return
        self.notify(transfer_text(result, instance.name), title=f"{direction.capitalize()} done")
        if result.endpoint_host_key_changed:
            self.notify(
                "The SSH host key of Vast's transfer endpoint for this instance changed: it "
                "was not used, the files went over the instance's own SSH.",
                title=f"{direction.capitalize()}: endpoint not trusted",
                severity="warning",
                timeout=15,
            )
        if result.conflicts:
            self.notify(
                conflicts_text(result.conflicts),
                title=f"{direction.capitalize()}: local files kept",
                severity="warning",
                timeout=15,
            )


def transfer_text(result: SyncResult, where: str) -> str:
    """What a finished push or pull moved, worded the same for `u`, `p` and a job's sync."""
    via = f"SFTP ({result.note})" if result.note else ""
    return describe_transfer(result.direction, result.files, result.bytes, where, via=via)


def conflicts_text(conflicts: list[str], most: int = 5) -> str:
    """The conflicts of a pull, a few of them by name."""
    shown = "\n".join(conflicts[:most])
    more = f"\n… and {len(conflicts) - most} more" if len(conflicts) > most else ""
    return f"{len(conflicts)} not pulled, your copy kept:\n{shown}{more}"
