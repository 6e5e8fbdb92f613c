"""Is an instance ready for work? Reached the way jobs reach it, and running a command.

A greeting alone is not enough: a provider's relay greets any connection, and
an sshd that does not yet hold our key greets too. Ready means: the SSH
endpoint jobs use answers, accepts vp-tui's key, and runs ``true``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vp_tui.config import Settings
from vp_tui.core.models import Instance
from vp_tui.remote.keys import HostKeyChanged, RemoteError, SSHKeyError
from vp_tui.remote.probe import ssh_banner
from vp_tui.remote.ssh import Remote

log = logging.getLogger(__name__)

LOGIN_TIMEOUT = 5.0
"""Seconds one readiness check may spend logging in (the caller polls again after it)."""


def runs_commands(instance: Instance, settings: Settings | None = None) -> bool:
    """True when ``instance.ssh`` logs vp-tui in and runs a command; never raises for a
    refusal (that only means "not yet")."""
    endpoint = instance.ssh
    if endpoint is None or not ssh_banner(endpoint):
        return False
    try:
        remote = Remote.for_instance(instance, settings)
        remote.connect_timeout = min(remote.connect_timeout, LOGIN_TIMEOUT)
        with remote:
            remote.connect(timeout=LOGIN_TIMEOUT)
            result = remote.run("true", timeout=LOGIN_TIMEOUT)
    except (HostKeyChanged, SSHKeyError) as exc:
        log.warning("readiness of %s: %s", instance.key, exc)
        return False
    except (RemoteError, OSError) as exc:
        log.info("readiness of %s: not yet (%s)", instance.key, exc)
        return False
    return result.rc == 0


def command_probe(settings: Settings) -> Callable[[Instance], bool]:
    """The readiness check both faces use: :func:`runs_commands` with ``settings``."""
    return lambda instance: runs_commands(instance, settings)
