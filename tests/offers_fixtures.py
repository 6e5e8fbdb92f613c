"""Seeded synthetic offers of both markets for the offers table and filter tests."""

from __future__ import annotations

import random

from vp_tui.core.models import Offer, PlatformName, Stock

# canonical name, provider spelling, VRAM per GPU (as the provider reports it), base $/GPU-h
MODELS: tuple[tuple[str, str, float, float], ...] = (
    ("RTX 4090", "RTX_4090", 23.99, 0.35),
    ("RTX 3090", "RTX_3090", 24.0, 0.2),
    ("RTX 4080", "RTX_4080", 16.0, 0.25),
    ("RTX A6000", "RTX_A6000", 47.99, 0.5),
    ("L40S", "L40S", 48.0, 0.8),
    ("A40", "A40", 48.0, 0.4),
    ("A100 SXM 80GB", "A100_SXM4", 80.0, 1.2),
    ("H100 SXM", "H100_SXM", 80.0, 2.3),
)
LOCATIONS = ("US", "Sweden", "Norway", "Canada", "EU-RO-1", "US-TX-3", "Japan", "Germany")


def make_offer(
    platform: PlatformName,
    offer_id: str,
    gpu: str | None,
    price: float,
    *,
    count: int = 1,
    vram: float = 24.0,
    raw: str | None = None,
    **extra: object,
) -> Offer:
    """One offer with sensible defaults for the fields a test does not care about."""
    return Offer(
        platform=platform,
        offer_id=offer_id,
        gpu=gpu,
        gpu_raw=raw or gpu or "unknown",
        gpu_count=count,
        vram_gb=vram,
        price_per_hour=price,
        **extra,
    )


def synthetic_offers(count: int, seed: int = 1, *, price_scale: float = 1.0) -> list[Offer]:
    """``count`` offers: a quarter RunPod, the rest Vast; same seed, same offers (ids too)."""
    rng = random.Random(seed)
    offers: list[Offer] = []
    for i in range(count):
        gpu, raw, vram, base = MODELS[rng.randrange(len(MODELS))]
        gpus = rng.choice((1, 1, 1, 2, 4, 8))
        platform: PlatformName = "runpod" if i % 4 == 0 else "vast"
        price = round(base * gpus * rng.uniform(0.6, 1.8) * price_scale, 4)
        offers.append(
            Offer(
                platform=platform,
                offer_id=str(i),
                gpu=gpu,
                gpu_raw=raw,
                gpu_count=gpus,
                vram_gb=vram,
                price_per_hour=price,
                interruptible=rng.random() < 0.2,
                reliability=round(rng.uniform(0.9, 1.0), 4) if platform == "vast" else None,
                location=rng.choice(LOCATIONS),
                stock=Stock.HIGH if platform == "runpod" else None,
                cloud=rng.choice(("SECURE", "COMMUNITY")) if platform == "runpod" else None,
            )
        )
    return offers
