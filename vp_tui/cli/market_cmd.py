"""`vp offers`: both GPU markets, compared."""

from __future__ import annotations

import argparse

from vp_tui.cli.context import add_platform_option, chosen_platforms, opened
from vp_tui.cli.output import CliError, print_json, stdout, table, warn
from vp_tui.cli.validate import positive_amount, positive_int
from vp_tui.core.models import Offer, Stock
from vp_tui.core.money import format_price
from vp_tui.core.ranking import (
    OFFER_SORTS,
    SORTS,
    cheapest_keys,
    compare_by_gpu,
    natural_descending,
    rank,
)
from vp_tui.platforms.base import OfferQuery


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `vp offers`."""
    p = sub.add_parser("offers", help="GPU offers from every platform, cheapest first")
    add_platform_option(p)
    p.add_argument(
        "--gpu", action="append", default=[], help="GPU model, e.g. RTX_4090 (repeatable)"
    )
    p.add_argument("--max-price", type=positive_amount, help="max $/h for the whole offer")
    p.add_argument("--min-vram", type=positive_amount, help="min VRAM per GPU, GB")
    p.add_argument("--num-gpus", type=positive_int, help="exact number of GPUs")
    p.add_argument(
        "--interruptible",
        choices=["yes", "no", "either"],
        default="either",
        help="spot/bid offers only (yes), on-demand only (no), or both",
    )
    p.add_argument("--region", help="location contains this text, e.g. US, Sweden")
    p.add_argument(
        "--sort",
        choices=list(OFFER_SORTS),
        default="price",
        help="order: price (total $/h), per_gpu ($/GPU-h), value ($/TFLOP-h), vram, "
        "reliability, gpus, platform, gpu, location, stock or kind (default price)",
    )
    p.add_argument("--reverse", action="store_true", help="the other direction of the --sort order")
    p.add_argument(
        "--limit", type=positive_int, default=None, help="rows to show (default 30, JSON all)"
    )
    p.add_argument("--by-gpu", action="store_true", help="cheapest offer per GPU on each platform")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=offers)


def build_query(args: argparse.Namespace, limit: int = 100_000) -> OfferQuery:
    """The OfferQuery the flags describe."""
    return OfferQuery(
        gpus=tuple(args.gpu),
        min_gpu_count=args.num_gpus,
        max_gpu_count=args.num_gpus,
        max_price_per_hour=args.max_price,
        min_vram_gb=args.min_vram,
        interruptible={"yes": True, "no": False}.get(args.interruptible),
        region=args.region,
        sort=args.sort if args.sort in SORTS else "price",
        limit=limit,
    )


def offers(args: argparse.Namespace) -> int:
    """List offers, or the per-GPU comparison."""
    with opened(args) as context:
        names = chosen_platforms(context, args.platform)
        result = context.market.refresh(build_query(args), platforms=names)
    if result.statuses and len(result.failed) == len(result.statuses):
        raise CliError("; ".join(s.error or f"{s.platform} failed" for s in result.failed))
    for status in result.failed:
        warn(f"{status.error}")
    if args.by_gpu:
        rows = compare_by_gpu(result.offers, interruptible=args.interruptible == "yes")
        if args.json:
            print_json(
                [
                    {
                        "gpu": row.gpu,
                        "vast_per_gpu_hour": row.per_gpu_price("vast"),
                        "runpod_per_gpu_hour": row.per_gpu_price("runpod"),
                        "difference": row.difference,
                        "cheapest_platform": row.cheapest_platform,
                        "offers": {p: o.model_dump(mode="json") for p, o in row.best.items()},
                    }
                    for row in rows
                ]
            )
            return 0
        table(
            ["GPU", "$/GPU-h Vast", "$/GPU-h RunPod", "RunPod - Vast", "cheapest"],
            [
                (
                    row.gpu,
                    format_price(row.per_gpu_price("vast")),
                    format_price(row.per_gpu_price("runpod")),
                    "-" if row.difference is None else f"{row.difference:+.3f}",
                    row.cheapest_platform or "-",
                )
                for row in rows[: args.limit or len(rows)]
            ],
        )
        return 0
    ordered = result.offers
    if args.reverse or args.sort not in SORTS:
        descending = not natural_descending(args.sort) if args.reverse else None
        ordered = rank(ordered, args.sort, descending)
    shown = ordered[: args.limit] if args.limit else ordered
    if args.json:
        print_json([offer.model_dump(mode="json") for offer in shown])
        return 0
    shown = shown if args.limit else shown[:30]
    best = cheapest_keys(result.offers)
    table(OFFER_COLUMNS, [offer_row(offer, offer.key in best) for offer in shown])
    stdout.print(
        f"{len(shown)} of {len(result.offers)} offers; * cheapest per GPU model; "
        "--json for all, --by-gpu to compare platforms"
    )
    return 0


OFFER_COLUMNS = (
    "platform", "offer", "GPU", "#", "VRAM GB", "$/h", "$/TFLOP-h", "rel", "location", "stock",
    "spot",
)  # fmt: skip
"""The columns of an offers table (:func:`offer_row`)."""


def offer_row(offer: Offer, cheapest: bool) -> tuple[str, ...]:
    """One offer as a row of :data:`OFFER_COLUMNS` (``cheapest`` marks it with ``*``)."""
    value = offer.dollars_per_tflop_hour
    return (
        offer.platform,
        offer.offer_id,
        ("* " if cheapest else "") + offer.label,
        str(offer.gpu_count),
        f"{offer.vram_gb:.0f}",
        format_price(offer.price_per_hour),
        "-" if value is None else f"{value:.4f}",
        "-" if offer.reliability is None else f"{offer.reliability:.3f}",
        offer.location or offer.cloud or "-",
        _stock_word(offer),
        "yes" if offer.interruptible else "",
    )


def _stock_word(offer: Offer) -> str:
    """The stock column: RunPod's level, ``out`` when none is left, ``?`` when RunPod gives
    none, ``-`` on Vast (which lists rentable machines only)."""
    if offer.platform != "runpod":
        return "-"
    if offer.stock is None:
        return "?"
    return "out" if offer.stock is Stock.NONE else offer.stock.value
