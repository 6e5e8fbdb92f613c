"""Is an instance's SSH server answering? A cheap check before a real login."""

from __future__ import annotations

import socket

from vp_tui.core.models import SSHEndpoint


def ssh_banner(endpoint: SSHEndpoint, timeout: float = 3.0) -> bool:
    """True when ``endpoint`` accepts a TCP connection and greets with an SSH banner."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = b""
            while b"\n" not in data and len(data) < 512:
                chunk = sock.recv(256)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return False
    return data.startswith(b"SSH-") or b"\nSSH-" in data
