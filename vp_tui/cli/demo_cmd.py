"""`vp demo serve` and `vp demo reset`: the built-in demo cloud."""

from __future__ import annotations

import argparse
import threading

from vp_tui.cli.output import CliError, stdout


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `vp demo ...`."""
    p = sub.add_parser("demo", help="the built-in demo cloud")
    demo_sub = p.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    serve = demo_sub.add_parser(
        "serve", help="run the demo cloud in the foreground and print its URLs and keys"
    )
    serve.set_defaults(handler=serve_demo)
    reset = demo_sub.add_parser("reset", help="forget every demo instance, job and key")
    reset.set_defaults(handler=reset_demo)


def serve_demo(args: argparse.Namespace) -> int:
    """Serve both emulators until interrupted."""
    from vp_tui.bootstrap import demo_keys, start_demo_cloud

    vast_key, runpod_key = demo_keys()
    try:
        cloud = start_demo_cloud()
    except ValueError as exc:  # a malformed VP_SIM_FAULTS or VP_SIM_BOOT_SECONDS
        raise CliError(str(exc), 2) from None
    try:
        stdout.print(f"Vast.ai API:  {cloud.vast_url}   key {vast_key}")
        stdout.print(f"RunPod API:   {cloud.runpod_url}   key {runpod_key}")
        stdout.print(
            f"Try: vastai --url {cloud.vast_url} --api-key {vast_key} "
            "search offers 'gpu_name=RTX_4090'"
        )
        stdout.print(
            f"     curl -H 'Authorization: Bearer {runpod_key}' {cloud.runpod_url}/v2/pods"
        )
        stdout.print("Serving; Ctrl-C stops.")
        threading.Event().wait()
    except KeyboardInterrupt:
        stdout.print("Stopped.")
    finally:
        cloud.stop()
    return 0


def reset_demo(args: argparse.Namespace) -> int:
    """Wipe the demo cloud's state."""
    from vp_tui.bootstrap import reset_demo_cloud

    reset_demo_cloud()
    stdout.print("Demo cloud reset: no instances, no jobs, fresh market.")
    return 0
