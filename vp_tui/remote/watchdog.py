"""The dead-man switch: a watchdog that runs ON an instance and tears it down by itself.

It holds when vp-tui is closed or the laptop is gone. It is a small Python
program (any image with ``python3``) started detached at launch in
``~/.vp/watchdog``, with a ``config.json`` beside it:

- ``deadline``: an epoch time (the instance's clock) after which the instance
  tears itself down (``--max-lifetime``);
- ``lease_seconds``: the instance tears itself down when the file ``lease``
  has not been touched for that long (``--lease``); vp-tui and ``vp guard``
  touch it while they run;
- ``idle_seconds``: the instance tears itself down after that long with no
  vp-tui job running and (where ``nvidia-smi`` tells) no GPU above
  ``idle_gpu_percent`` (``--idle-stop``);
- ``action``: ``stop`` or ``destroy``;
- ``platform`` and ``api_url``: whom to ask.

It asks the provider with the credential the provider gives the instance
itself, never the user's account key: Vast's ``CONTAINER_ID`` and
``CONTAINER_API_KEY``, RunPod's ``RUNPOD_POD_ID`` and pod-scoped
``RUNPOD_API_KEY`` (docs/guards.md cites where each is documented). They are
read from its environment, else from ``/proc/1/environ`` (the container's
own, for an SSH session whose environment was reset). A failed request is
retried every 10 s; the watchdog never gives up on its own.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Literal

from vp_tui.core.models import PlatformName
from vp_tui.remote.ssh import Remote

__all__ = ["WATCHDOG_DIR", "WatchdogPlan", "install", "renew_lease", "watchdog_source"]

WATCHDOG_DIR = "$HOME/.vp/watchdog"
"""Where the watchdog lives on the instance (a shell word: ``$HOME`` is expanded there)."""
POLL_SECONDS = 5
"""How often the watchdog looks at its deadline and its lease."""

Action = Literal["stop", "destroy"]

_SOURCE = r'''
"""vp-tui's watchdog: tears this instance down at its deadline or when its lease runs out."""
import json, os, sys, time, urllib.request

HERE = sys.argv[1]
CONFIG = json.load(open(os.path.join(HERE, "config.json")))
LEASE = os.path.join(HERE, "lease")


def log(text):
    with open(os.path.join(HERE, "log"), "a") as out:
        out.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + text + "\n")


def env(name):
    value = os.environ.get(name)
    if value:
        return value
    try:
        with open("/proc/1/environ", "rb") as source:
            for item in source.read().split(b"\0"):
                key, _, found = item.partition(b"=")
                if key.decode(errors="replace") == name:
                    return found.decode(errors="replace")
    except OSError:
        pass
    return None


def ask(method, url, key, body):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer " + key)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode(errors="replace")
    try:
        said = json.loads(text) if text.strip() else {}
    except ValueError:
        said = {}
    if isinstance(said, dict) and said.get("success") is False:
        if said.get("error") != "no_such_instance":
            raise RuntimeError(text[:300])


def teardown():
    base = CONFIG["api_url"].rstrip("/")
    destroy = CONFIG["action"] == "destroy"
    if CONFIG["platform"] == "vast":
        ident, key = env("CONTAINER_ID"), env("CONTAINER_API_KEY")
        if not ident or not key:
            raise RuntimeError("CONTAINER_ID / CONTAINER_API_KEY not found")
        url = base + "/api/v0/instances/" + ident + "/"
        if destroy:
            ask("DELETE", url, key, {})
        else:
            ask("PUT", url, key, {"state": "stopped"})
    else:
        ident, key = env("RUNPOD_POD_ID"), env("RUNPOD_API_KEY")
        if not ident or not key:
            raise RuntimeError("RUNPOD_POD_ID / RUNPOD_API_KEY not found")
        if destroy:
            ask("DELETE", base + "/v2/pods/" + ident, key, None)
        else:
            ask("POST", base + "/v2/pods/" + ident + "/action", key, {"action": "stop"})


IDLE_SINCE = [time.time()]


def busy():
    """A vp-tui job runs, or a GPU is in use (when nvidia-smi can tell)."""
    jobs = os.path.expanduser("~/.vp/jobs")
    try:
        names = os.listdir(jobs)
    except OSError:
        names = []
    for name in names:
        here = os.path.join(jobs, name)
        if os.path.exists(os.path.join(here, "exit_code")):
            continue
        try:
            with open(os.path.join(here, "pid")) as source:
                pid = source.read().split()[0]
        except (OSError, IndexError):
            continue
        if os.path.exists("/proc/" + pid):
            return True
    try:
        import subprocess
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20,
        ).stdout
        return any(float(v) >= CONFIG.get("idle_gpu_percent", 5) for v in out.split())
    except (OSError, ValueError, subprocess.SubprocessError):
        return False


def why():
    now = time.time()
    idle = CONFIG.get("idle_seconds")
    if idle:
        if busy():
            IDLE_SINCE[0] = now
        elif now >= IDLE_SINCE[0] + idle:
            return "it was idle for %.0f s (no job, GPU unused)" % idle
    deadline = CONFIG.get("deadline")
    if deadline is not None and now >= deadline:
        return "its maximum lifetime is over"
    lease = CONFIG.get("lease_seconds")
    if lease:
        try:
            renewed = os.path.getmtime(LEASE)
        except OSError:
            renewed = CONFIG.get("armed_at", now)
        if now >= renewed + lease:
            return "its lease was not renewed for %.0f s" % lease
    return None


log("armed: " + json.dumps({k: v for k, v in CONFIG.items() if k != "api_url"}))
while True:
    reason = why()
    if reason:
        try:
            teardown()
            log(CONFIG["action"] + " requested: " + reason)
            if CONFIG["action"] == "destroy":
                time.sleep(60)
            else:
                sys.exit(0)
        except Exception as exc:
            log("teardown failed, retrying: %s" % (exc,))
            time.sleep(10)
            continue
    time.sleep(%(poll)d)
'''


def watchdog_source() -> str:
    """The watchdog program as it is written to the instance."""
    return _SOURCE.replace("%(poll)d", str(POLL_SECONDS)).lstrip()


@dataclass(frozen=True)
class WatchdogPlan:
    """What a watchdog is to enforce on one instance."""

    platform: PlatformName
    api_url: str
    """The provider's API base URL as the instance reaches it."""
    action: Action = "destroy"
    deadline: float | None = None
    """Epoch seconds after which the instance tears itself down (max lifetime)."""
    lease_seconds: float | None = None
    """Tear down when the lease was not renewed for this long."""
    idle_seconds: float | None = None
    """Tear down after this long with no vp-tui job running and no GPU in use."""
    idle_gpu_percent: float = 5.0
    armed_at: float | None = None

    def config(self) -> str:
        """The watchdog's ``config.json``."""
        return json.dumps(
            {
                "platform": self.platform,
                "api_url": self.api_url,
                "action": self.action,
                "deadline": self.deadline,
                "lease_seconds": self.lease_seconds,
                "idle_seconds": self.idle_seconds,
                "idle_gpu_percent": self.idle_gpu_percent,
                "armed_at": self.armed_at,
            }
        )


def install(remote: Remote, plan: WatchdogPlan) -> None:
    """Write the watchdog and its plan to the instance, start it (replacing any earlier
    one) and wait until it has read its plan. Raises ``RemoteError`` when the instance
    cannot run it (no ``python3``) or it did not start."""
    d = WATCHDOG_DIR
    script = "\n".join(
        [
            "set -e",
            f'd="{d}"',
            'mkdir -p "$d"',
            "command -v python3 >/dev/null ||"
            ' { echo "vp: the watchdog needs python3" >&2; exit 3; }',
            'if [ -f "$d/pid" ]; then kill "$(cat "$d/pid")" 2>/dev/null || true; fi',
            f"printf '%s' {shlex.quote(watchdog_source())} > \"$d/watchdog.py\"",
            f"printf '%s' {shlex.quote(plan.config())} > \"$d/config.json\"",
            'touch "$d/lease"',
            ': > "$d/log"',
            '(cd / && setsid nohup python3 "$d/watchdog.py" "$d" >>"$d/log" 2>&1 < /dev/null &'
            ' echo $! > "$d/pid")',
            # Armed means running: it logs "armed" once it has read its plan.
            'for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "armed" "$d/log" && exit 0; sleep 0.5; done',
            'echo "vp: the watchdog did not start: $(tail -n 3 "$d/log")" >&2',
            "exit 4",
            "",
        ]
    )
    remote.run("sh -c " + shlex.quote(script), timeout=60, check=True)


def renew_lease(remote: Remote) -> bool:
    """Touch the watchdog's lease on the instance; False when it has no watchdog."""
    result = remote.run(
        "sh -c " + shlex.quote(f'd="{WATCHDOG_DIR}"; [ -f "$d/config.json" ] && touch "$d/lease"'),
        timeout=30,
    )
    return result.rc == 0
