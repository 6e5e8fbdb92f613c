"""`vp create-instance`, `list-instances`, `destroy-instance`, `stop-instance`, `start-instance`."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from vp_tui.bootstrap import Context
from vp_tui.cli.context import add_platform_option, chosen_platforms, opened
from vp_tui.cli.output import CliError, error, print_json, stderr, stdout, table, warn
from vp_tui.cli.validate import (
    duration,
    identifier,
    offer_id,
    positive_amount,
    positive_int,
    timeout_seconds,
)
from vp_tui.core.costs import hourly_rate, spent_so_far
from vp_tui.core.durations import format_span
from vp_tui.core.gpus import canonical_gpu
from vp_tui.core.launch_price import launch_price, per_day
from vp_tui.core.models import Instance, LaunchSpec, Offer, PlatformName, PlatformStatus
from vp_tui.core.money import format_duration, format_money, format_price
from vp_tui.core.text import visible
from vp_tui.platforms.base import OfferQuery, PlatformError, check_price_cap
from vp_tui.services.jobs import JobError
from vp_tui.services.ledger import LedgerSnapshot, instance_flags, spent_of


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the instance commands."""
    p = sub.add_parser(
        "create-instance",
        help="rent the cheapest matching offer (or a given one) under the price cap",
    )
    add_platform_option(p, "platform to rent on (default: cheapest of all)")
    p.add_argument("--gpu-type", help="GPU model, e.g. RTX_4090 or 'NVIDIA GeForce RTX 4090'")
    p.add_argument("--offer-id", type=offer_id, help="rent exactly this offer (from `vp offers`)")
    p.add_argument("--num-gpus", type=positive_int, default=1, help="GPUs (default 1)")
    p.add_argument(
        "--max-price", type=positive_amount, help="raise (or lower) the $/h cap for this launch"
    )
    p.add_argument("--interruptible", action="store_true", help="rent a spot/bid offer")
    p.add_argument(
        "--bid", type=positive_amount, help="bid $/h for an interruptible offer (default: min bid)"
    )
    p.add_argument("--image", help="Docker image (default from settings)")
    p.add_argument("--disk", type=positive_amount, help="disk GB (default from settings)")
    p.add_argument("--label", help="a name for the instance")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment")
    p.add_argument("--wait", action="store_true", help="return once reachable over SSH")
    p.add_argument(
        "--timeout", type=timeout_seconds, default=900, help="seconds to wait with --wait"
    )
    p.add_argument("--yes", "-y", action="store_true", help="rent without asking")
    p.add_argument(
        "--max-lifetime",
        type=duration,
        metavar="DURATION",
        help="the instance tears itself down this long after launch (e.g. 8h), vp-tui or not",
    )
    p.add_argument(
        "--lease",
        type=duration,
        metavar="DURATION",
        help="the instance tears itself down when vp-tui or `vp guard` stop renewing this lease",
    )
    p.add_argument(
        "--idle-stop",
        type=duration,
        metavar="DURATION",
        help="the instance tears itself down after this long with no job and no GPU use",
    )
    p.add_argument(
        "--expiry-action",
        choices=["stop", "destroy"],
        default="destroy",
        help="what the on-instance watchdog does at the end (default destroy)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=create_instance)

    p = sub.add_parser("list-instances", help="your instances on every platform")
    add_platform_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=list_instances)

    p = sub.add_parser(
        "destroy-instance", help="destroy an instance (or all of them) and verify it is gone"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("instance_id", metavar="ID", type=identifier, nargs="?")
    which.add_argument(
        "--all", action="store_true", help="destroy every instance (of --platform, if given)"
    )
    add_platform_option(p, "platform of the instance(s) (default: look on all)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p.add_argument(
        "--timeout", type=timeout_seconds, default=120, help="seconds to wait for verification"
    )
    p.set_defaults(handler=destroy_instance)

    for name, verb, state, seconds in (
        ("stop-instance", "stop", "stopped", 120),
        ("start-instance", "start", "running", 300),
    ):
        p = sub.add_parser(name, help=f"{verb} an instance and verify it is {state}")
        p.add_argument("instance_id", metavar="ID", type=identifier)
        add_platform_option(p, "platform of the instance (default: look on all)")
        p.add_argument(
            "--no-wait", action="store_true", help=f"only ask; do not wait until it is {state}"
        )
        p.add_argument(
            "--timeout",
            type=timeout_seconds,
            default=seconds,
            help=f"seconds to wait until it is {state} (default {seconds})",
        )
        p.set_defaults(handler=stop_instance if verb == "stop" else start_instance)


def instance_json(
    instance: Instance, now: datetime | None = None, snapshot: LedgerSnapshot | None = None
) -> dict[str, Any]:
    """The `--json` shape of an instance; ``spent`` is what the ledger has seen it bill."""
    now = now or datetime.now(UTC)
    endpoint = instance.ssh or instance.ssh_proxy
    spent = spent_of(instance, snapshot, now)
    return {
        "platform": instance.platform,
        "instance_id": instance.instance_id,
        "label": instance.label,
        "gpu": instance.gpu or instance.gpu_raw,
        "gpu_count": instance.gpu_count,
        "state": str(instance.state),
        "outbid": instance.outbid,
        "flags": instance_flags(instance, snapshot),
        "status_message": instance.status_message,
        "price_per_hour": hourly_rate(instance),
        "spent": None if spent is None else round(spent, 6),
        "started_at": instance.started_at.isoformat() if instance.started_at else None,
        "uptime_seconds": instance.uptime_at(now),
        "ssh_host": endpoint.host if endpoint else None,
        "ssh_port": endpoint.port if endpoint else None,
        "gpu_util": instance.gpu_util,
        "image": instance.image,
    }


def _cap(context: Context, platform: PlatformName) -> float:
    section = context.settings.vast if platform == "vast" else context.settings.runpod
    return section.max_price_per_hour


def choose_offer(context: Context, args: argparse.Namespace) -> Offer:
    """The offer to rent: the given id, or the cheapest match under the cap."""
    names = chosen_platforms(context, args.platform)
    gpu = args.gpu_type
    wanted = canonical_gpu(gpu) or gpu if gpu else None
    if args.offer_id:
        query = OfferQuery(limit=100_000)
        result = context.market.refresh(query, platforms=names, force=True)
        for offer in result.offers:
            if offer.offer_id == args.offer_id:
                return offer
        errors = "; ".join(s.error or "" for s in result.failed)
        raise CliError(
            f"offer {args.offer_id} not found (it may have been rented)"
            + (f": {errors}" if errors else "")
        )
    if not gpu:
        if len(names) == 1 and names[0] == "runpod":
            wanted = canonical_gpu(context.settings.runpod.default_gpu_type)
        else:
            raise CliError("give --gpu-type (e.g. RTX_4090) or --offer-id", 2)
    base = OfferQuery(
        gpus=(wanted,) if wanted else (),
        min_gpu_count=args.num_gpus if "vast" in names else None,
        interruptible=bool(args.interruptible),
        limit=100_000,
    )
    result = context.market.refresh(base, platforms=names, force=True)
    for status in result.failed:
        warn(status.error or f"{status.platform} failed")
    candidates = [
        o
        for o in result.offers
        if (o.max_gpu_count is None and o.gpu_count == args.num_gpus)
        or (o.max_gpu_count is not None and o.max_gpu_count >= args.num_gpus)
    ]
    if not candidates:
        raise CliError(f"no {gpu} offer found on {', '.join(names)}")

    def price(offer: Offer) -> float:
        if offer.max_gpu_count is not None:
            return offer.price_per_hour * args.num_gpus
        return offer.price_per_hour

    affordable = [
        o
        for o in candidates
        if price(o) <= (args.max_price if args.max_price is not None else _cap(context, o.platform))
    ]
    if not affordable:
        cheapest = min(candidates, key=price)
        cap = args.max_price if args.max_price is not None else _cap(context, cheapest.platform)
        raise CliError(
            f"no {gpu} offer under ${cap:.2f}/h on {', '.join(names)}; the cheapest is "
            f"${price(cheapest):.3f}/h ({cheapest.platform} offer {cheapest.offer_id}): "
            f"rent it with --max-price {price(cheapest):.3f}"
        )
    return min(affordable, key=price)


def launch_spec(context: Context, offer: Offer, args: argparse.Namespace) -> LaunchSpec:
    """The LaunchSpec from flags and per-platform defaults."""
    env: dict[str, str] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--env {item!r}: expected KEY=VALUE", 2)
        env[key] = value
    if offer.platform == "vast":
        image = args.image or context.settings.vast.default_image
        disk = args.disk or context.settings.vast.disk_gb
    else:
        image = args.image or context.settings.runpod.default_image
        disk = args.disk or context.settings.runpod.container_disk_gb
    bid = args.bid
    if offer.interruptible and bid is None:
        bid = offer.min_bid or offer.price_per_hour
    return LaunchSpec(
        image=image,
        disk_gb=disk,
        label=args.label,
        env=env,
        gpu_count=args.num_gpus,
        bid_price=bid if offer.interruptible else None,
        max_price_per_hour=args.max_price,
    )


def price_line(offer: Offer, spec: LaunchSpec) -> str:
    """What the launch will rent and cost, said before renting: offer, $/h, $/day."""
    gpus = spec.gpu_count if offer.max_gpu_count else offer.gpu_count
    price = launch_price(offer, spec.gpu_count, spec.bid_price)
    kind = " (interruptible: your bid + storage)" if offer.interruptible else ""
    return visible(
        f"{gpus}x {offer.label} on {offer.platform} (offer {offer.offer_id}): "
        f"{format_price(price)}/h{kind}, {format_money(per_day(price))}/day"
    )


def create_instance(args: argparse.Namespace) -> int:
    """Rent an offer after showing its price (asking first on a terminal, unless --yes);
    with --wait, return once the instance is reachable."""
    with opened(args) as context:
        offer = choose_offer(context, args)
        spec = launch_spec(context, offer, args)
        try:
            check_price_cap(offer, spec, _cap(context, offer.platform))
        except PlatformError as exc:
            raise CliError(str(exc)) from None
        (stderr if args.json else stdout).print(price_line(offer, spec))
        if not args.yes:
            if not sys.stdin.isatty():
                raise CliError("not on a terminal: add --yes to rent without asking", 2)
            if not _confirm("Rent it? [y/N] "):
                stderr.print("Not rented.")
                return 1
        stderr.print(f"Renting on {offer.platform}...")

        def progress(instance: Instance, message: str) -> None:
            stderr.print(f"  {instance.platform} {instance.instance_id}: {message}")

        try:
            instance = context.fleet.create(offer, spec, wait=False, on_progress=progress)
        except PlatformError as exc:
            raise CliError(str(exc)) from None
        # The watchdog starts over SSH: --max-lifetime and --lease wait for the instance.
        guarded = (args.max_lifetime, args.lease, args.idle_stop)
        if args.wait or any(g is not None for g in guarded):
            last_seen = instance

            def track(seen: Instance, message: str) -> None:
                nonlocal last_seen
                last_seen = seen
                progress(seen, message)

            try:
                instance = context.fleet.wait_ready(
                    instance, timeout=args.timeout, on_progress=track
                )
            except PlatformError as exc:
                return _created_but_not_ready(last_seen, str(exc), 1, args.json)
            except KeyboardInterrupt:
                return _created_but_not_ready(last_seen, "interrupted", 130, args.json)
            if any(g is not None for g in guarded):
                status = _arm(context, instance, args)
                if status:
                    _print_created(instance, args.json)
                    return status
    _print_created(instance, args.json)
    return 0


def _arm(context: Context, instance: Instance, args: argparse.Namespace) -> int:
    """Start the on-instance watchdog; a failure leaves the instance billing and says so."""
    guards = context.guards
    assert guards is not None
    try:
        plan = guards.arm(
            instance,
            max_lifetime=args.max_lifetime,
            lease=args.lease,
            idle=args.idle_stop,
            action=args.expiry_action,
        )
    except JobError as exc:
        error(
            f"{exc}; {instance.platform} instance {instance.instance_id} runs without its "
            f"watchdog and may be billing: destroy it with "
            f"`vp destroy-instance {instance.instance_id}`"
        )
        return 1
    parts = []
    if plan.deadline is not None:
        when = datetime.fromtimestamp(plan.deadline).astimezone().strftime("%H:%M:%S")
        parts.append(f"at {when} (max lifetime {format_span(args.max_lifetime)})")
    if plan.lease_seconds is not None:
        parts.append(f"when its lease of {format_span(plan.lease_seconds)} is not renewed")
    if plan.idle_seconds is not None:
        parts.append(f"after {format_span(plan.idle_seconds)} idle")
    (stderr if args.json else stdout).print(
        f"watchdog armed on {instance.instance_id}: it will {plan.action} itself "
        + " or ".join(parts),
        markup=False,
    )
    return 0


def _print_created(instance: Instance, as_json: bool) -> None:
    """The created instance on stdout: its JSON, or one line for people."""
    if as_json:
        print_json(instance_json(instance))
        return
    endpoint = instance.ssh or instance.ssh_proxy
    where = f", ssh {endpoint}" if endpoint else ""
    stdout.print(f"{instance.platform} instance {instance.instance_id} {instance.state}{where}")


def _created_but_not_ready(instance: Instance, reason: str, status: int, as_json: bool) -> int:
    """A wait that failed after the rental: say the instance exists and bills, and how to stop it.

    The instance is still printed on stdout (as JSON with ``--json``), so a script
    knows what it rented; the exit status says the launch did not finish.
    """
    error(f"waiting for the instance failed: {reason}")
    error(
        f"{instance.platform} instance {instance.instance_id} exists and may be billing: "
        f"destroy it with `vp destroy-instance {instance.instance_id} "
        f"--platform {instance.platform}`"
    )
    _print_created(instance, as_json)
    return status


def list_instances(args: argparse.Namespace) -> int:
    """Print instances of every platform; exit 1 when any platform could not be listed.

    The rows of the platforms that answered are printed either way (JSON stays a list
    of instances); each platform that failed is named on stderr with its error.
    """
    with opened(args) as context:
        names = chosen_platforms(context, args.platform)
        result = context.fleet.list(names)
        snapshot = context.fleet.ledger.snapshot() if context.fleet.ledger else None
    failed = [s for s in result.statuses.values() if not s.ok]
    if failed and len(failed) == len(result.statuses):
        raise CliError("; ".join(_listing_error(s) for s in failed))
    for status in failed:
        error(_listing_error(status))
    status_code = 1 if failed else 0
    now = datetime.now(UTC)
    if args.json:
        print_json([instance_json(i, now, snapshot) for i in result.instances])
        return status_code
    if not result.instances:
        if failed:
            answered = [s.platform for s in result.statuses.values() if s.ok]
            stdout.print(f"No instances on {', '.join(answered)}.")
        else:
            stdout.print("No instances. Rent one with `vp create-instance --gpu-type RTX_4090`.")
        return status_code
    table(
        ["platform", "id", "label", "GPU", "state", "uptime", "$/h", "spent", "flags", "ssh"],
        [
            (
                i.platform,
                i.instance_id,
                i.label or "",
                f"{i.gpu_count}x {i.gpu or i.gpu_raw or '?'}",
                "out-bid" if i.outbid else str(i.state),
                format_duration(i.uptime_at(now)),
                format_price(hourly_rate(i)),
                format_money(spent_of(i, snapshot, now)),
                ", ".join(instance_flags(i, snapshot)),
                str(i.ssh or i.ssh_proxy or "-"),
            )
            for i in result.instances
        ],
    )
    return status_code


def _listing_error(status: PlatformStatus) -> str:
    """The stderr line for a platform whose instances could not be listed."""
    return (
        f"{status.platform}: instances could not be listed, none of them are shown: "
        f"{status.error or 'no reason given'}"
    )


def _confirm(question: str) -> bool:
    stderr.print(question, end="")
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def destroy_instance(args: argparse.Namespace) -> int:
    """Destroy an instance; exit 0 only when verified gone."""
    if args.all:
        return destroy_all(args)
    with opened(args) as context:
        try:
            instance = context.fleet.find(args.instance_id, args.platform)
        except PlatformError as exc:
            raise CliError(str(exc)) from None
        if not args.yes:
            if not sys.stdin.isatty():
                raise CliError("not on a terminal: add --yes to destroy without asking", 2)
            now = datetime.now(UTC)
            question = (
                f"Destroy {instance.platform} instance {instance.instance_id}"
                f"{' (' + instance.label + ')' if instance.label else ''}, "
                f"{instance.gpu or instance.gpu_raw}, {format_price(hourly_rate(instance))}/h now, "
                f"spent {format_money(spent_so_far(instance, now))}? Its disk is lost. [y/N] "
            )
            if not _confirm(question):
                stderr.print("Not destroyed.")
                return 1
        stderr.print(f"Destroying {instance.platform} instance {instance.instance_id}...")
        try:
            context.fleet.destroy(instance.instance_id, instance.platform, timeout=args.timeout)
        except PlatformError as exc:
            raise CliError(str(exc)) from None
    stdout.print(f"{instance.platform} instance {instance.instance_id} destroyed (verified gone)")
    return 0


def destroy_all(args: argparse.Namespace) -> int:
    """Destroy every instance (of ``--platform``), verifying each; exit 0 only when every
    one is verified gone and every platform could be listed."""
    with opened(args) as context:
        names = chosen_platforms(context, args.platform)
        result = context.fleet.list(names)
        failed = [s for s in result.statuses.values() if not s.ok]
        for status in failed:
            error(
                f"{status.platform}: instances could not be listed, so none were destroyed "
                f"there and they may still be billing: {status.error or 'no reason given'}"
            )
        instances = result.instances
        if not instances:
            where = ", ".join(s.platform for s in result.statuses.values() if s.ok)
            if where:
                stdout.print(f"No instances on {where}: nothing to destroy.")
            return 1 if failed else 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise CliError("not on a terminal: add --yes to destroy without asking", 2)
            now = datetime.now(UTC)
            table(
                ["platform", "id", "label", "GPU", "$/h", "spent"],
                [
                    (
                        i.platform,
                        i.instance_id,
                        i.label or "",
                        f"{i.gpu_count}x {i.gpu or i.gpu_raw or '?'}",
                        format_price(hourly_rate(i)),
                        format_money(spent_so_far(i, now)),
                    )
                    for i in instances
                ],
            )
            total = format_price(sum(hourly_rate(i) for i in instances))
            question = (
                f"Destroy these {len(instances)} instances ({total}/h together)? "
                "Their disks are lost. [y/N] "
            )
            if not _confirm(question):
                stderr.print("Not destroyed.")
                return 1
        stderr.print(f"Destroying {len(instances)} instances...")
        outcomes = _destroy_each(context, instances, args.timeout)
    for instance, problem in outcomes:
        name = f"{instance.platform} instance {instance.instance_id}"
        if problem is None:
            stdout.print(f"{name}: destroyed (verified gone)")
        else:
            stdout.print(f"{name}: FAILED: {problem}")
    return 1 if failed or any(problem is not None for _, problem in outcomes) else 0


def _destroy_each(
    context: Context, instances: list[Instance], timeout: float
) -> list[tuple[Instance, str | None]]:
    """Destroy the instances at once, each verified; the error of each (None: gone)."""

    def destroy(instance: Instance) -> str | None:
        try:
            context.fleet.destroy(instance.instance_id, instance.platform, timeout=timeout)
        except PlatformError as exc:
            return str(exc)
        return None

    with ThreadPoolExecutor(max_workers=min(8, len(instances))) as pool:
        return list(zip(instances, pool.map(destroy, instances), strict=True))


def _stop_or_start(args: argparse.Namespace, verb: str) -> int:
    with opened(args) as context:
        try:
            instance = context.fleet.find(args.instance_id, args.platform)
        except PlatformError as exc:
            raise CliError(str(exc)) from None
        name = f"{instance.platform} instance {instance.instance_id}"
        wait = not args.no_wait
        if wait:
            doing = "Stopping" if verb == "stop" else "Starting"
            stderr.print(f"{doing} {name}...")
        try:
            if verb == "stop":
                seen = context.fleet.stop(
                    instance.instance_id, instance.platform, wait=wait, timeout=args.timeout
                )
            else:
                seen = context.fleet.start(
                    instance.instance_id, instance.platform, wait=wait, timeout=args.timeout
                )
        except PlatformError as exc:
            raise CliError(str(exc)) from None
    if seen is None:
        stdout.print(f"{name}: {verb} requested (not verified; see `vp list-instances`)")
    elif verb == "stop":
        stdout.print(f"{name} stopped (verified; its disk still bills)")
    else:
        stdout.print(f"{name} running (verified)")
    return 0


def stop_instance(args: argparse.Namespace) -> int:
    """Stop an instance and verify it is stopped (storage keeps billing)."""
    return _stop_or_start(args, "stop")


def start_instance(args: argparse.Namespace) -> int:
    """Start a stopped instance and verify it is running."""
    return _stop_or_start(args, "start")
