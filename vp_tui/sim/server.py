"""The embedded demo cloud: its state plus the Vast.ai and RunPod emulators on 127.0.0.1.

``DemoCloud().start()`` serves both APIs from daemon threads on free loopback
ports; point ``vastai.VastAI(key, server_url=demo.vast_url)`` at the first and
RunPod clients at ``demo.runpod_url`` (REST v2 under ``/v2/``, the account's
GraphQL at ``/graphql``) with the demo keys below.

Every request is counted per API and route (:attr:`DemoCloud.requests`), so a
test can measure how often a client polls. An exception inside an emulator is
logged with its traceback and answered with a 500 that names the demo cloud
and carries ``X-Demo-Internal-Error: 1``, never mistakable for an injected
``VP_SIM_FAULTS`` fault.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from vp_tui.locations import data_dir, ensure_private_dir
from vp_tui.sim.cloud import SimCloud, SimInstance
from vp_tui.sim.faults import FaultInjector, HttpRequest, HttpResponse, truncated
from vp_tui.sim.runpod_api import RunPodAPI
from vp_tui.sim.ssh_host import DemoSSHHosts
from vp_tui.sim.vast_api import VastAPI

VAST_DEMO_KEY = "demo-vast-0000000000000000000000000000"
RUNPOD_DEMO_KEY = "demo-runpod-00000000000000000000000000"
DEFAULT_BOOT_SECONDS = 4.0
INTERNAL_ERROR_HEADER = "X-Demo-Internal-Error"
"""Set (to ``1``) on the 500 that answers a failure of the emulator itself."""

log = logging.getLogger(__name__)

RequestKey = tuple[str, str, str]
"""``(api, method, route)``: ``("vast", "GET", "/api/v0/instances/{id}")``,
``("runpod", "POST", "query Pods")``."""


class EmulatedAPI(Protocol):
    """What the HTTP server needs from an emulator."""

    platform: str

    def handle(self, req: HttpRequest) -> HttpResponse:
        """Answer one request."""

    def unauthorized(self, req: HttpRequest) -> HttpResponse:
        """The provider's 401 to ``req`` (its shape may depend on the API it addressed)."""

    def rate_limited(self, req: HttpRequest) -> HttpResponse:
        """The provider's 429 to ``req``."""

    def error_response(self, status: int, req: HttpRequest) -> HttpResponse:
        """The provider's answer to ``req`` with an error status."""

    def internal_error(self, detail: str, req: HttpRequest) -> HttpResponse:
        """The provider-shaped 500 to ``req`` for a failure of the emulator itself."""

    def route(self, req: HttpRequest) -> str:
        """The route (REST) or operation (GraphQL) a request asks for, for counting."""


class RequestCounter:
    """How many requests the emulators received, per ``(api, method, route)``; thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[RequestKey] = Counter()
        self._lock = threading.Lock()

    def record(self, api: str, method: str, route: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[(api, method, route)] += 1

    def snapshot(self) -> Counter[RequestKey]:
        """A copy of the counts so far."""
        with self._lock:
            return Counter(self._counts)

    def total(self, api: str | None = None) -> int:
        """Requests so far to ``api`` (``vast`` or ``runpod``), or to both."""
        with self._lock:
            return sum(n for key, n in self._counts.items() if api is None or key[0] == api)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._counts.clear()


def _route(api: EmulatedAPI, req: HttpRequest) -> str:
    try:
        return api.route(req)
    except Exception:
        log.error(
            "demo %s API failed to name the route of %s %s",
            api.platform,
            req.method,
            req.path,
            exc_info=True,
        )
        return req.path


def serve(
    api: EmulatedAPI,
    faults: FaultInjector,
    req: HttpRequest,
    counter: RequestCounter | None = None,
) -> HttpResponse:
    """Answer a request through the fault rules: delay, fail, garble, or pass it on.

    ``counter``, when given, counts the request before anything else happens to it.
    """
    if counter is not None:
        counter.record(api.platform, req.method, _route(api, req))
    if req.path.startswith("/demo/"):
        return _safely(api, req)
    decision = faults.roll(api.platform)
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000.0)
    req.nodestroy = decision.nodestroy
    req.nographql = decision.nographql
    req.noport = decision.noport
    req.schedfail = decision.schedfail
    req.fate = decision.fate
    failure = decision.failure
    if failure is None:
        return _safely(api, req)
    if failure.kind == "auth":
        return api.unauthorized(req)
    if failure.kind == "ratelimit":
        return api.rate_limited(req)
    if failure.kind == "ratelimit-retry":
        limited = api.rate_limited(req)
        limited.headers["Retry-After"] = "1"
        return limited
    if failure.kind == "error":
        return api.error_response(failure.value, req)
    return truncated(_safely(api, req))


def _safely(api: EmulatedAPI, req: HttpRequest) -> HttpResponse:
    """``api.handle(req)``; an exception there is an emulator bug: logged, answered 500."""
    try:
        return api.handle(req)
    except Exception as exc:
        log.error("demo %s API failed on %s %s", api.platform, req.method, req.path, exc_info=True)
        response = api.internal_error(f"{type(exc).__name__}: {exc}", req)
        response.headers[INTERNAL_ERROR_HEADER] = "1"
        return response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api: EmulatedAPI, faults: FaultInjector, counter: RequestCounter) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self.faults = faults
        self.counter = counter

    def handle_error(self, request: object, client_address: object) -> None:
        """Log a failure of the HTTP plumbing; a client that gave up is not one."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            log.debug(
                "demo %s API: client %s went away: %r", self.api.platform, client_address, exc
            )
            return
        log.error(
            "demo %s API failed to serve %s", self.api.platform, client_address, exc_info=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "vp-tui-demo/1"
    sys_version = ""

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        req = HttpRequest(
            method=self.command,
            path=parts.path or "/",
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=self.server.base_url,
        )
        resp = serve(self.server.api, self.server.faults, req, self.server.counter)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One DEBUG line per request, without the query string (it may carry an API key)."""
        path = urlsplit(self.path).path
        log.debug("demo %s API: %s %s -> %s", self.server.api.platform, self.command, path, code)

    def log_message(self, format: str, *args: object) -> None:
        """Everything else the HTTP server would print goes to the log at DEBUG, not stderr."""
        log.debug("demo %s API: " + format, self.server.api.platform, *args)


def _boot_seconds_from_env() -> float:
    raw = os.environ.get("VP_SIM_BOOT_SECONDS")
    if raw is None or not raw.strip():
        return DEFAULT_BOOT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"VP_SIM_BOOT_SECONDS={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"VP_SIM_BOOT_SECONDS={raw!r} must be a finite, non-negative number")
    return value


class DemoCloud:
    """The whole demo cloud: state + both HTTP emulators.

    ``state_dir`` defaults to ``<data dir>/demo``; ``boot_seconds`` to
    ``$VP_SIM_BOOT_SECONDS`` else 4; ``faults`` to ``$VP_SIM_FAULTS``. The URLs are
    empty until :meth:`start`.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        seed: int = 7,
        boot_seconds: float | None = None,
        faults: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if state_dir is None:
            state_dir = ensure_private_dir(data_dir() / "demo")
        boot = _boot_seconds_from_env() if boot_seconds is None else float(boot_seconds)
        spec = os.environ.get("VP_SIM_FAULTS") if faults is None else faults
        self.faults = FaultInjector(spec, seed=seed)
        self.cloud = SimCloud(Path(state_dir), seed=seed, boot_seconds=boot, clock=clock)
        self.ssh_hosts = DemoSSHHosts(Path(state_dir))
        self.cloud.ssh_endpoint_provider = self._serve_ssh
        self.cloud.on_destroy.append(self._forget_ssh)
        self.vast_api = VastAPI(self.cloud, VAST_DEMO_KEY)
        self.vast_api.proxy_endpoint_provider = self._ssh_proxy
        self.runpod_api = RunPodAPI(self.cloud, RUNPOD_DEMO_KEY)
        self.vast_url = ""
        self.runpod_url = ""
        self._counter = RequestCounter()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @staticmethod
    def _host_key(inst: SimInstance) -> str:
        return f"{inst.platform}-{inst.id}"

    def _serve_ssh(self, inst: SimInstance) -> tuple[str, int] | None:
        """A booted instance is reachable over real SSH on 127.0.0.1, served by this process."""
        if not self._servers:
            return None
        cloud = self.cloud
        platform, instance_id = inst.platform, inst.id

        def keys() -> list[str]:
            current = cloud.get(platform, instance_id)
            return cloud.authorized_keys(platform, current) if current is not None else []

        environment = cloud.instance_environment(inst, self._api_url(platform))
        return self.ssh_hosts.ensure_host(
            self._host_key(inst), cloud.sandbox_dir(inst), keys, environment
        )

    def _api_url(self, platform: str) -> str:
        """The base URL of the emulator of ``platform`` (empty before :meth:`start`)."""
        return self.runpod_url if platform == "runpod" else self.vast_url

    def _ssh_proxy(self, inst: SimInstance) -> tuple[str, int] | None:
        """The second port of a served instance's SSH server, standing in for Vast's proxy."""
        return self.ssh_hosts.proxy_endpoint(self._host_key(inst))

    def _forget_ssh(self, inst: SimInstance) -> None:
        """A destroyed instance's SSH server and every process it ran go with it."""
        self.ssh_hosts.remove_host(self._host_key(inst), forget_key=True)

    @property
    def state_dir(self) -> Path:
        """Where the demo state and sandboxes live."""
        return self.cloud.state_dir

    def start(self) -> DemoCloud:
        """Serve both emulators on free 127.0.0.1 ports (a second call does nothing)."""
        with self._lock:
            if self._servers:
                return self
            for api in (self.vast_api, self.runpod_api):
                server = _Server(api, self.faults, self._counter)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"demo-{api.platform}-api",
                    daemon=True,
                )
                thread.start()
                self._servers.append(server)
                self._threads.append(thread)
            self.vast_url = self._servers[0].base_url
            self.runpod_url = self._servers[1].base_url
        return self

    def stop(self) -> None:
        """Stop serving (the state stays on disk)."""
        with self._lock:
            servers, self._servers = self._servers, []
            threads, self._threads = self._threads, []
        self.ssh_hosts.stop()
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=5)
        for server in servers:
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)

    @property
    def requests(self) -> Counter[RequestKey]:
        """Requests served so far per ``(api, method, route)``: a snapshot, safe to keep.

        ``api`` is ``vast`` or ``runpod``; ``route`` is the REST route with its
        parameters named (``/api/v0/instances/{id}``, ``/v2/pods/{id}/action``) or the
        GraphQL operation
        (``query Pods``, ``mutation podStop``: the operation's name, else its root
        fields). Every request counts, refused or faulted ones included.
        """
        return self._counter.snapshot()

    def request_count(self, api: str | None = None) -> int:
        """Requests served so far by one API (``vast`` or ``runpod``), or by both."""
        return self._counter.total(api)

    def reset_request_counts(self) -> None:
        """Count requests from zero again."""
        self._counter.reset()

    def set_faults(self, spec: str | None) -> None:
        """Replace the fault rules at runtime (None or "" clears them)."""
        self.faults.set_spec(spec)

    def reset(self) -> None:
        """Wipe the demo state: instances, account keys, balances and sandboxes."""
        self.cloud.reset()

    def __enter__(self) -> DemoCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()
