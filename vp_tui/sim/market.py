"""The demo cloud's simulated GPU market: Vast.ai offers and RunPod GPU types.

Everything here is a pure function of the seed and the time asked about: the
same seed gives the same offers (ids, machines, places, base prices), and
prices drift by a few percent over hours along smooth waves, so two processes
sharing a seed see the same market. A small share of Vast offers is absent in
any given hour (hosts going offline and coming back), which makes the offer set
churn a little while every offer keeps its id.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HOUR = 3600.0
STORAGE_HOURS_PER_MONTH = 730.0
"""Vast and RunPod quote storage per GB-month; this turns it into an hourly rate."""

VAST_OFFER_POOL = 2300
"""How many Vast offers exist in all; about 4 % of them are away in any hour."""

VAST_CHURN_PER_HOUR = 0.04
"""The share of Vast offers absent during any one hour."""

PRICE_BUCKET_SECONDS = 60.0
"""Prices are recomputed once a minute (they only drift by a few percent over hours)."""

_MASK = 0xFFFFFFFFFFFFFFFF


def unit_hash(*parts: int | str) -> float:
    """A deterministic number in [0, 1) from the given parts (splitmix64 over their bytes)."""
    state = 0x9E3779B97F4A7C15
    for part in parts:
        data = str(part).encode()
        for start in range(0, len(data), 8):
            chunk = int.from_bytes(data[start : start + 8], "little")
            state = ((state ^ chunk) + 0x9E3779B97F4A7C15) & _MASK
            z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
            state = z ^ (z >> 31)
        state = (state * 0x100000001B3 + 0x2545F4914F6CDD1D) & _MASK
    return (state >> 11) / float(1 << 53)


@functools.lru_cache(maxsize=8192)
def _drift_params(seed: int, key: int | str) -> tuple[float, float, float, float]:
    return (
        (5.0 + 7.0 * unit_hash(seed, key, "pa")) * HOUR,
        (9.0 + 7.0 * unit_hash(seed, key, "pb")) * HOUR,
        2 * math.pi * unit_hash(seed, key, "fa"),
        2 * math.pi * unit_hash(seed, key, "fb"),
    )


def drift_factor(seed: int, key: int | str, now: float, amplitude: float = 0.04) -> float:
    """A slow multiplicative price wave around 1.0 (+-``amplitude`` at most).

    Two sines with periods of roughly 5 to 16 hours and phases that depend on
    ``key``: prices move a few percent over hours and never jump.
    """
    period_a, period_b, phase_a, phase_b = _drift_params(seed, key)
    wave = 0.7 * math.sin(2 * math.pi * now / period_a + phase_a) + 0.3 * math.sin(
        2 * math.pi * now / period_b + phase_b
    )
    return 1.0 + amplitude * wave


# ---------------------------------------------------------------------------
# Vast.ai
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VastGpuModel:
    """One GPU model as Vast lists it, with the ranges offers are drawn from."""

    name: str
    """Vast's spelling (``gpu_name``), e.g. ``"RTX 4090"``."""
    vram_mb: tuple[int, ...]
    """Possible per-GPU memory sizes in MB (``gpu_ram``)."""
    price_low: float
    """Cheapest typical on-demand $/h for one GPU."""
    price_high: float
    """Dearest typical on-demand $/h for one GPU."""
    tflops: float
    """FP32 TFLOPS of one GPU (``total_flops`` per GPU)."""
    dlperf: float
    """Vast's DLPerf score of one GPU."""
    compute_cap: int
    """CUDA compute capability times 100 (890 = 8.9)."""
    mem_bw: float
    """Memory bandwidth in GB/s."""
    max_power: int
    """Board power in W."""
    weight: float
    """How common the model is on the market (relative)."""
    tier: str
    """``consumer``, ``workstation`` or ``datacenter``: drives GPU counts, CPUs, hosting."""
    vendor: str = "nvidia"


VAST_GPU_MODELS: tuple[VastGpuModel, ...] = (
    VastGpuModel("RTX 4090", (24564,), 0.25, 0.60, 82.6, 62.0, 890, 1008, 450, 18, "consumer"),
    VastGpuModel("RTX 3090", (24576,), 0.15, 0.30, 35.6, 31.0, 860, 936, 350, 14, "consumer"),
    VastGpuModel("RTX 5090", (32607,), 0.45, 0.90, 104.8, 88.0, 1200, 1792, 575, 10, "consumer"),
    VastGpuModel("H100 SXM", (81559,), 1.60, 2.80, 67.0, 205.0, 900, 3350, 700, 6, "datacenter"),
    VastGpuModel("H100 PCIE", (81559,), 1.40, 2.40, 51.2, 160.0, 900, 2000, 350, 3, "datacenter"),
    VastGpuModel("H100 NVL", (95830,), 1.90, 2.90, 60.0, 190.0, 900, 3900, 400, 2, "datacenter"),
    VastGpuModel("H200", (143771,), 2.30, 3.60, 67.0, 230.0, 900, 4800, 700, 3, "datacenter"),
    VastGpuModel("B200", (183359,), 3.80, 5.50, 75.0, 360.0, 1000, 8000, 1000, 1.5, "datacenter"),
    VastGpuModel(
        "A100 SXM4", (40960, 81920), 0.80, 1.50, 19.5, 95.0, 800, 2039, 400, 4, "datacenter"
    ),
    VastGpuModel(
        "A100 PCIE", (40960, 81920), 0.70, 1.30, 19.5, 85.0, 800, 1935, 300, 3, "datacenter"
    ),
    VastGpuModel("A100X", (81920,), 0.80, 1.30, 19.5, 88.0, 800, 2039, 300, 1, "datacenter"),
    VastGpuModel("L40S", (46068,), 0.55, 0.95, 91.6, 78.0, 890, 864, 350, 4, "datacenter"),
    VastGpuModel("L40", (46068,), 0.50, 0.85, 90.5, 70.0, 890, 864, 300, 2, "datacenter"),
    VastGpuModel("L4", (23034,), 0.18, 0.40, 30.3, 24.0, 890, 300, 72, 2, "datacenter"),
    VastGpuModel("A40", (46068,), 0.30, 0.55, 37.4, 38.0, 860, 696, 300, 3, "datacenter"),
    VastGpuModel("A10", (23028,), 0.18, 0.35, 31.2, 28.0, 860, 600, 150, 1.5, "datacenter"),
    VastGpuModel("RTX A6000", (49140,), 0.35, 0.60, 38.7, 40.0, 860, 768, 300, 6, "workstation"),
    VastGpuModel("RTX A5000", (24564,), 0.17, 0.32, 27.8, 28.0, 860, 768, 230, 4, "workstation"),
    VastGpuModel("RTX A4000", (16376,), 0.09, 0.20, 19.2, 19.0, 860, 448, 140, 4, "workstation"),
    VastGpuModel("RTX 6000Ada", (49140,), 0.60, 1.00, 91.1, 80.0, 890, 960, 300, 4, "workstation"),
    VastGpuModel("RTX 5000Ada", (32760,), 0.40, 0.70, 65.3, 58.0, 890, 576, 250, 2, "workstation"),
    VastGpuModel("RTX 4000Ada", (20475,), 0.12, 0.25, 26.7, 24.0, 890, 360, 130, 3, "workstation"),
    VastGpuModel("RTX 4080", (16376,), 0.15, 0.30, 48.7, 42.0, 890, 717, 320, 4, "consumer"),
    VastGpuModel("RTX 4070 Ti", (12282,), 0.10, 0.20, 40.1, 34.0, 890, 504, 285, 3, "consumer"),
    VastGpuModel("RTX 3080", (10240,), 0.07, 0.16, 29.8, 25.0, 860, 760, 320, 4, "consumer"),
    VastGpuModel("RTX 3060", (12288,), 0.04, 0.10, 12.7, 11.0, 860, 360, 170, 4, "consumer"),
    VastGpuModel(
        "Tesla V100", (16384, 32768), 0.12, 0.30, 15.7, 22.0, 700, 900, 300, 2.5, "datacenter"
    ),
    VastGpuModel("Tesla T4", (15360,), 0.05, 0.14, 8.1, 8.0, 750, 320, 70, 1.5, "datacenter"),
    VastGpuModel("GTX 1080 Ti", (11264,), 0.04, 0.10, 11.3, 7.0, 610, 484, 250, 1.5, "consumer"),
    VastGpuModel("Q RTX 8000", (49152,), 0.25, 0.45, 16.3, 17.0, 750, 672, 260, 1, "workstation"),
    VastGpuModel("RTX 2080 Ti", (11264,), 0.07, 0.15, 13.4, 12.0, 750, 616, 250, 2, "consumer"),
    VastGpuModel(
        "InstinctMI300X",
        (196608,),
        1.80,
        3.00,
        163.4,
        210.0,
        0,
        5300,
        750,
        0.7,
        "datacenter",
        vendor="amd",
    ),
)
"""The Vast GPU models of the demo market (Vast's own spellings)."""

_GEOLOCATIONS: tuple[tuple[str, float], ...] = (
    ("United States, US", 30),
    ("Canada, CA", 5),
    ("Sweden, SE", 5),
    ("Norway, NO", 3),
    ("Finland, FI", 3),
    ("Germany, DE", 7),
    ("France, FR", 4),
    ("Netherlands, NL", 4),
    ("Poland, PL", 3),
    ("Romania, RO", 4),
    ("Czechia, CZ", 2),
    ("Spain, ES", 2),
    ("United Kingdom, GB", 4),
    ("Bulgaria, BG", 2),
    ("Estonia, EE", 1),
    ("Iceland, IS", 1),
    ("Japan, JP", 3),
    ("South Korea, KR", 2),
    ("Taiwan, TW", 2),
    ("Singapore, SG", 2),
    ("Hong Kong, HK", 2),
    ("Vietnam, VN", 2),
    ("India, IN", 2),
    ("Australia, AU", 2),
    ("Brazil, BR", 2),
)

_SERVER_CPUS = (
    ("AMD EPYC 7763 64-Core Processor", 128),
    ("AMD EPYC 9654 96-Core Processor", 192),
    ("AMD EPYC 7B13 64-Core Processor", 128),
    ("Intel Xeon Platinum 8480+", 112),
    ("Intel Xeon Gold 6338", 64),
    ("AMD EPYC 7543 32-Core Processor", 64),
)
_DESKTOP_CPUS = (
    ("AMD Ryzen 9 7950X 16-Core Processor", 32),
    ("AMD Ryzen 9 5950X 16-Core Processor", 32),
    ("Intel Core i9-13900K", 32),
    ("Intel Core i7-12700K", 20),
    ("AMD Ryzen Threadripper PRO 5975WX 32-Cores", 64),
    ("AMD Ryzen Threadripper 3970X 32-Core Processor", 64),
    ("Intel Xeon E5-2698 v4", 40),
)
_SERVER_BOARDS = ("ROMED8-2T", "H12SSL-i", "MZ73-LM0", "X13DEG-OAD", "G292-Z20")
_DESKTOP_BOARDS = ("X570 AORUS MASTER", "PRO WS WRX80E-SAGE SE WIFI", "Z790 AORUS ELITE", "TRX40")

_GPU_COUNTS: dict[str, tuple[tuple[int, float], ...]] = {
    "consumer": ((1, 0.48), (2, 0.22), (4, 0.18), (8, 0.12)),
    "workstation": ((1, 0.45), (2, 0.25), (4, 0.2), (8, 0.1)),
    "datacenter": ((1, 0.3), (2, 0.15), (4, 0.2), (8, 0.35)),
}
_DATACENTER_SHARE = {"consumer": 0.1, "workstation": 0.35, "datacenter": 0.7}


def _weighted(rng: random.Random, items: Sequence[tuple[Any, float]]) -> Any:
    total = sum(w for _, w in items)
    pick = rng.random() * total
    for item, weight in items:
        pick -= weight
        if pick < 0:
            return item
    return items[-1][0]


class VastMarket:
    """Vast's offer book: a fixed pool of machines whose prices drift and presence churns."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self._base: list[dict[str, Any]] = self._generate()
        self._by_id = {offer["id"]: offer for offer in self._base}
        self._cached: tuple[tuple[int, int], list[dict[str, Any]]] | None = None

    def _generate(self) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        models = [(m, m.weight) for m in VAST_GPU_MODELS]
        ids = sorted(rng.sample(range(11_000_000, 29_000_000), VAST_OFFER_POOL))
        rng.shuffle(ids)
        offers: list[dict[str, Any]] = []
        for index, offer_id in enumerate(ids):
            # the first offers cover every model, so each one is always on sale
            model: VastGpuModel = (
                VAST_GPU_MODELS[index] if index < len(VAST_GPU_MODELS) else _weighted(rng, models)
            )
            offers.append(self._make_offer(rng, offer_id, model))
        return offers

    def _make_offer(self, rng: random.Random, offer_id: int, model: VastGpuModel) -> dict[str, Any]:
        num_gpus = _weighted(rng, _GPU_COUNTS[model.tier])
        gpus_on_machine = max(num_gpus, _weighted(rng, ((num_gpus, 0.6), (8, 0.4))))
        datacenter = rng.random() < _DATACENTER_SHARE[model.tier]
        server = model.tier == "datacenter" or datacenter or gpus_on_machine >= 8
        cpu_name, cpu_cores = rng.choice(_SERVER_CPUS if server else _DESKTOP_CPUS)
        cpu_cores_effective = round(cpu_cores * num_gpus / gpus_on_machine, 1)
        # cpu_ram is the whole machine's, as Vast reports it (not the offer's share)
        cpu_ram = rng.choice((64, 128, 256, 512, 1024, 2048)) * 1024 * (2 if server else 1)
        vram = rng.choice(model.vram_mb)
        # price per GPU: skewed toward the cheap end, like a real market
        spread = rng.random() ** 1.6
        per_gpu = model.price_low + (model.price_high - model.price_low) * spread
        if num_gpus >= 4:
            per_gpu *= 0.97
        dph_base = round(per_gpu * num_gpus, 4)
        roll = rng.random()
        verification = "unverified" if roll < 0.015 else "deverified" if roll < 0.02 else "verified"
        reliability = round(1.0 - (rng.random() ** 3) * 0.1, 4)
        inet_down = round(rng.choice((100, 500, 1000, 2500, 10000)) * (0.6 + 0.5 * rng.random()), 1)
        inet_up = round(inet_down * (0.4 + 0.6 * rng.random()), 1)
        storage_cost = round(rng.choice((0.05, 0.1, 0.15, 0.2, 0.3)), 3)
        driver_major = 570 if model.compute_cap < 1200 else 575
        driver_minor = rng.choice((86, 124, 133, 153))
        cuda = 12.8 if model.compute_cap >= 1200 else rng.choice((12.2, 12.4, 12.6, 12.8))
        geolocation = _weighted(rng, _GEOLOCATIONS)
        machine_id = rng.randrange(2_000, 60_000)
        return {
            "id": offer_id,
            "ask_contract_id": offer_id,
            "bundle_id": offer_id + 7_000_000,
            "machine_id": machine_id,
            "host_id": rng.randrange(10_000, 400_000),
            "hostname": None,
            "num_gpus": num_gpus,
            "gpu_name": model.name,
            "gpu_arch": model.vendor,
            "gpu_ram": vram,
            "gpu_total_ram": vram * num_gpus,
            "gpu_frac": round(num_gpus / gpus_on_machine, 3),
            "gpu_display_active": False,
            "gpu_lanes": rng.choice((8, 16)),
            "gpu_mem_bw": model.mem_bw,
            "gpu_max_power": model.max_power,
            "gpu_max_temp": rng.choice((83, 87, 90)),
            "compute_cap": model.compute_cap,
            "cuda_max_good": cuda,
            "driver_version": f"{driver_major}.{driver_minor}.0{rng.randrange(1, 9)}",
            "driver_vers": driver_major * 1_000_000,
            "cpu_name": cpu_name,
            "cpu_arch": "amd64",
            "cpu_cores": cpu_cores,
            "cpu_cores_effective": cpu_cores_effective,
            "cpu_ghz": round(2.0 + 2.0 * rng.random(), 1),
            "cpu_ram": cpu_ram,
            "has_avx": 1,
            "mobo_name": rng.choice(_SERVER_BOARDS if server else _DESKTOP_BOARDS),
            "pci_gen": 5.0 if model.compute_cap >= 900 else 4.0,
            "pcie_bw": round(rng.choice((12.0, 24.5, 25.3, 50.2)), 1),
            "disk_name": rng.choice(("Samsung SSD 990 PRO", "Micron 7450", "WD_BLACK SN850X")),
            "disk_space": round(rng.choice((250, 500, 1000, 2000, 4000)) * (0.5 + rng.random()), 1),
            "disk_bw": round(1500 + 5000 * rng.random(), 1),
            "inet_down": inet_down,
            "inet_up": inet_up,
            "inet_down_cost": round(rng.choice((0.0, 0.001, 0.002, 0.005)), 4),
            "inet_up_cost": round(rng.choice((0.0, 0.001, 0.002, 0.005)), 4),
            "direct_port_count": rng.choice((20, 50, 100, 200)),
            "static_ip": rng.random() < 0.6,
            "public_ipaddr": f"198.51.100.{1 + machine_id % 254}",
            "geolocation": geolocation,
            "geolocode": None,
            "hosting_type": 1 if datacenter else 0,
            "datacenter": None,
            "cluster_id": None,
            "os_version": "22.04",
            "ubuntu_version": "22.04",
            "vms_enabled": rng.random() < 0.2,
            "reliability": reliability,
            "reliability2": reliability,
            "reliability_mult": round(min(1.0, reliability + 0.005), 4),
            "verification": verification,
            "rentable": True,
            "rented": False,
            "external": False,
            "is_bid": False,
            "dph_base": dph_base,
            "storage_cost": storage_cost,
            "vram_costperhour": round(dph_base / max(1, vram * num_gpus / 1024) / 100, 6),
            "min_bid": round(dph_base * (0.4 + 0.3 * rng.random()), 4),
            "dlperf": round(model.dlperf * num_gpus * (0.85 + 0.2 * rng.random()), 2),
            "total_flops": round(model.tflops * num_gpus, 2),
            "duration": float(rng.randrange(7, 360) * 86400),
            "credit_discount_max": 0.4,
            "discount_rate": None,
            "webpage": None,
        }

    def _present(self, offer_id: int, now: float) -> bool:
        return unit_hash(self.seed, offer_id, int(now // HOUR)) >= VAST_CHURN_PER_HOUR

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Every offer on the market at ``now`` with its drifted prices (shared dicts: copy them).

        Prices are in force for a minute; ``dph_total`` and the other per-request
        fields are added by :func:`priced_offer`.
        """
        key = (int(now // PRICE_BUCKET_SECONDS), int(now // HOUR))
        cached = self._cached
        if cached is None or cached[0] != key:
            price_time = key[0] * PRICE_BUCKET_SECONDS
            current = []
            for base in self._base:
                if not self._present(base["id"], now):
                    continue
                factor = drift_factor(self.seed, base["id"], price_time)
                offer = dict(base)
                offer["dph_base"] = round(base["dph_base"] * factor, 4)
                offer["min_bid"] = round(base["min_bid"] * factor, 4)
                current.append(offer)
            cached = (key, current)
            self._cached = cached
        return cached[1]

    def offer(self, offer_id: int, now: float) -> dict[str, Any] | None:
        """One offer as it is at ``now``, or None when it is not on the market then."""
        if offer_id not in self._by_id:
            return None
        for offer in self.snapshot(now):
            if offer["id"] == offer_id:
                return offer
        return None

    def all_ids(self) -> list[int]:
        """The ids of every offer in the pool, present now or not."""
        return [offer["id"] for offer in self._base]


def priced_offer(
    offer: dict[str, Any], now: float, storage_gb: float, *, bid: bool = False
) -> dict[str, Any]:
    """A copy of ``offer`` with the fields that depend on the request filled in.

    ``dph_total`` is the on-demand compute price plus storage at ``storage_gb``,
    for an interruptible (``bid``) search too: whether Vast prices those at
    ``min_bid`` is not documented, so clients compute a bid price from ``min_bid``
    and ``storage_cost`` themselves. ``dlperf_per_dphtotal``, ``flops_per_dphtotal``
    and ``score`` follow from ``dph_total``.
    """
    out = dict(offer)
    compute = offer["dph_base"]
    storage = offer["storage_cost"] * storage_gb / STORAGE_HOURS_PER_MONTH
    dph_total = round(compute + storage, 6)
    out["dph_total"] = dph_total
    out["storage_total_cost"] = round(storage, 6)
    out["dlperf_per_dphtotal"] = round(offer["dlperf"] / dph_total, 3) if dph_total else 0.0
    out["flops_per_dphtotal"] = round(offer["total_flops"] / dph_total, 3) if dph_total else 0.0
    out["score"] = round(out["dlperf_per_dphtotal"] * offer["reliability2"] ** 4, 3)
    out["end_date"] = round(now + offer["duration"], 1)
    out["start_date"] = None
    out["is_bid"] = bid
    out["datacenter"] = offer["hosting_type"] == 1
    return out


# ---------------------------------------------------------------------------
# RunPod
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPodGpuType:
    """One RunPod GPU type with its list prices ($/h per GPU; None where a cloud lacks it)."""

    id: str
    display_name: str
    memory_gb: int
    secure_price: float | None
    community_price: float | None
    secure_spot: float | None
    community_spot: float | None
    max_gpu_count: int
    cuda_cores: int
    stock: int
    """Typical availability: 3 high, 2 medium, 1 low."""
    manufacturer: str = "Nvidia"
    vcpus_per_gpu: int = 8
    ram_gb_per_gpu: int = 31


RUNPOD_GPU_TYPES: tuple[RunPodGpuType, ...] = (
    RunPodGpuType("NVIDIA GeForce RTX 4090", "RTX 4090", 24, 0.69, 0.34, 0.35, 0.20, 8, 16384, 3),
    RunPodGpuType("NVIDIA GeForce RTX 5090", "RTX 5090", 32, 0.94, 0.69, 0.50, 0.42, 8, 21760, 2),
    RunPodGpuType("NVIDIA GeForce RTX 3090", "RTX 3090", 24, 0.46, 0.22, 0.24, 0.11, 8, 10496, 3),
    RunPodGpuType("NVIDIA GeForce RTX 4080", "RTX 4080", 16, None, 0.27, None, 0.14, 4, 9728, 2),
    RunPodGpuType("NVIDIA H100 80GB HBM3", "H100 SXM", 80, 2.99, 2.69, 1.75, 1.50, 8, 16896, 2),
    RunPodGpuType("NVIDIA H100 PCIe", "H100 PCIe", 80, 2.39, 1.99, 1.40, 1.25, 8, 14592, 2),
    RunPodGpuType("NVIDIA H100 NVL", "H100 NVL", 94, 2.79, 2.59, 1.60, 1.45, 8, 16896, 1),
    RunPodGpuType("NVIDIA H200", "H200 SXM", 141, 3.99, 3.59, 2.30, None, 8, 16896, 1),
    RunPodGpuType("NVIDIA B200", "B200", 180, 5.99, None, 3.59, None, 8, 18944, 1),
    RunPodGpuType("NVIDIA A100-SXM4-80GB", "A100 SXM", 80, 1.74, 1.39, 1.05, 0.85, 8, 6912, 2),
    RunPodGpuType("NVIDIA A100 80GB PCIe", "A100 PCIe", 80, 1.64, 1.19, 0.95, 0.75, 8, 6912, 2),
    RunPodGpuType(
        "NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48, 0.77, 0.74, 0.45, 0.39, 8, 18176, 3
    ),
    RunPodGpuType(
        "NVIDIA RTX 5000 Ada Generation", "RTX 5000 Ada", 32, 0.59, None, 0.35, None, 8, 12800, 2
    ),
    RunPodGpuType(
        "NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20, 0.26, 0.20, 0.15, 0.12, 8, 6144, 3
    ),
    RunPodGpuType(
        "NVIDIA RTX 2000 Ada Generation", "RTX 2000 Ada", 16, 0.24, 0.23, 0.14, 0.12, 8, 2816, 2
    ),
    RunPodGpuType("NVIDIA RTX A6000", "RTX A6000", 48, 0.49, 0.33, 0.25, 0.18, 8, 10752, 3),
    RunPodGpuType("NVIDIA RTX A5000", "RTX A5000", 24, 0.27, 0.16, 0.15, 0.10, 8, 8192, 3),
    RunPodGpuType("NVIDIA RTX A4500", "RTX A4500", 20, 0.25, 0.19, 0.14, 0.11, 8, 7168, 2),
    RunPodGpuType("NVIDIA RTX A4000", "RTX A4000", 16, 0.25, 0.17, 0.14, 0.10, 8, 6144, 3),
    RunPodGpuType("NVIDIA L40S", "L40S", 48, 0.86, 0.79, 0.50, 0.40, 8, 18176, 2),
    RunPodGpuType("NVIDIA L40", "L40", 48, 0.99, 0.69, 0.55, None, 8, 18176, 1),
    RunPodGpuType("NVIDIA L4", "L4", 24, 0.43, None, 0.25, None, 8, 7424, 2),
    RunPodGpuType("NVIDIA A40", "A40", 48, 0.40, None, 0.24, None, 8, 10752, 2),
    RunPodGpuType(
        "AMD Instinct MI300X OAM",
        "MI300X",
        192,
        2.49,
        None,
        None,
        None,
        8,
        19456,
        1,
        manufacturer="AMD",
        vcpus_per_gpu=24,
        ram_gb_per_gpu=283,
    ),
)
"""RunPod's GPU types in the demo market, with RunPod's real ids and display names."""

_STOCK_NAMES = {3: "High", 2: "Medium", 1: "Low"}


class RunPodMarket:
    """RunPod's GPU catalogue: list prices that drift a little, stock that varies by hour."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.types: dict[str, RunPodGpuType] = {t.id: t for t in RUNPOD_GPU_TYPES}

    def price(self, value: float | None, type_id: str, now: float) -> float | None:
        """A list price as it is at ``now`` (drifts about 2 %, whole cents)."""
        if value is None:
            return None
        bucket = int(now // PRICE_BUCKET_SECONDS) * PRICE_BUCKET_SECONDS
        return round(value * drift_factor(self.seed, type_id, bucket, amplitude=0.02), 2)

    def gpu_type(self, type_id: str, now: float) -> dict[str, Any] | None:
        """One GPU type as RunPod's ``gpuTypes`` answers it (without ``lowestPrice``)."""
        spec = self.types.get(type_id)
        if spec is None:
            return None
        secure = self.price(spec.secure_price, spec.id, now)
        community = self.price(spec.community_price, spec.id, now)
        reference = secure if secure is not None else community
        return {
            "id": spec.id,
            "displayName": spec.display_name,
            "manufacturer": spec.manufacturer,
            "memoryInGb": spec.memory_gb,
            "cudaCores": spec.cuda_cores,
            "maxGpuCount": spec.max_gpu_count,
            "maxGpuCountSecureCloud": spec.max_gpu_count if secure is not None else 0,
            "maxGpuCountCommunityCloud": spec.max_gpu_count if community is not None else 0,
            "minPodGpuCount": 1,
            "secureCloud": secure is not None,
            "communityCloud": community is not None,
            "securePrice": secure,
            "communityPrice": community,
            "secureSpotPrice": self.price(spec.secure_spot, spec.id, now),
            "communitySpotPrice": self.price(spec.community_spot, spec.id, now),
            "oneWeekPrice": round(reference * 0.95, 2) if reference is not None else None,
            "oneMonthPrice": round(reference * 0.9, 2) if reference is not None else None,
            "threeMonthPrice": round(reference * 0.85, 2) if reference is not None else None,
            "sixMonthPrice": round(reference * 0.8, 2) if reference is not None else None,
            "nodeGroupDatacenters": [],
        }

    def gpu_types(self, now: float) -> list[dict[str, Any]]:
        """Every GPU type, in RunPod's order."""
        return [t for t in (self.gpu_type(s.id, now) for s in RUNPOD_GPU_TYPES) if t is not None]

    def stock_status(
        self, type_id: str, gpu_count: int, secure: bool | None, now: float
    ) -> str | None:
        """``High``/``Medium``/``Low`` or None (none free) for that many GPUs of a type."""
        spec = self.types.get(type_id)
        if spec is None or gpu_count < 1 or gpu_count > spec.max_gpu_count:
            return None
        clouds = [secure] if secure is not None else [False, True]
        best = 0
        for is_secure in clouds:
            price = spec.secure_price if is_secure else spec.community_price
            if price is None:
                continue
            level = spec.stock
            roll = unit_hash(self.seed, type_id, is_secure, int(now // HOUR))
            if roll < 0.15:
                level -= 1
            elif roll > 0.9:
                level += 1
            if gpu_count >= 8:
                level -= 2
            elif gpu_count >= 4:
                level -= 1
            if spec.stock == 3 and gpu_count <= 2:
                level = max(level, 2)  # the common cards are always to be had singly
            best = max(best, min(level, 3))
        return _STOCK_NAMES.get(best)

    def lowest_price(
        self, type_id: str, gpu_count: int, secure: bool | None, now: float
    ) -> dict[str, Any] | None:
        """RunPod's ``lowestPrice`` object for a type, GPU count and cloud (None: any cloud)."""
        spec = self.types.get(type_id)
        if spec is None:
            return None
        if secure is None:
            on_demand = [spec.community_price, spec.secure_price]
            spot = [spec.community_spot, spec.secure_spot]
        elif secure:
            on_demand, spot = [spec.secure_price], [spec.secure_spot]
        else:
            on_demand, spot = [spec.community_price], [spec.community_spot]
        on_demand_now = [
            p for p in (self.price(v, type_id, now) for v in on_demand) if p is not None
        ]
        spot_now = [p for p in (self.price(v, type_id, now) for v in spot) if p is not None]
        stock = self.stock_status(type_id, gpu_count, secure, now)
        total = spec.max_gpu_count * (12 if spec.stock == 3 else 6 if spec.stock == 2 else 3)
        free = {"High": 0.5, "Medium": 0.2, "Low": 0.05}.get(stock or "", 0.0)
        rented = int(total * (1 - free))
        return {
            "gpuName": spec.display_name,
            "gpuTypeId": spec.id,
            "minimumBidPrice": min(spot_now) if spot_now else None,
            "uninterruptablePrice": min(on_demand_now) if on_demand_now else None,
            "minMemory": spec.ram_gb_per_gpu * gpu_count,
            "minVcpu": spec.vcpus_per_gpu * gpu_count,
            "rentalPercentage": round(rented / total, 2) if total else None,
            "rentedCount": rented,
            "totalCount": total,
            "stockStatus": stock,
            "maxUnreservedGpuCount": spec.max_gpu_count if stock else 0,
            "availableGpuCounts": [n for n in (1, 2, 4, 8) if n <= spec.max_gpu_count]
            if stock
            else [],
            "countryCode": None,
            "supportPublicIp": True,
            "compliance": [],
        }


class Market:
    """Both demo markets under one seed."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.vast = VastMarket(seed)
        self.runpod = RunPodMarket(seed)


# ---------------------------------------------------------------------------
# RunPod data centres, CUDA versions and pools
# ---------------------------------------------------------------------------

RUNPOD_DATACENTERS: tuple[tuple[str, str, str], ...] = (
    ("EU-RO-1", "EU Romania 1", "RO"),
    ("EU-SE-1", "EU Sweden 1", "SE"),
    ("EU-CZ-1", "EU Czechia 1", "CZ"),
    ("EUR-IS-1", "EU Iceland 1", "IS"),
    ("US-TX-3", "US Texas 3", "US"),
    ("US-CA-2", "US California 2", "US"),
    ("US-GA-1", "US Georgia 1", "US"),
    ("CA-MTL-1", "CA Montreal 1", "CA"),
)
"""RunPod's data centres in the demo: ``(id, name, country code)``."""

RUNPOD_CUDA_VERSIONS: tuple[str, ...] = ("12.9", "12.8", "12.6", "12.4", "12.2", "11.8")
"""The CUDA versions hosts report, newest first."""

_LEVELS = {"High": 3, "Medium": 2, "Low": 1}
_BLACKWELL = ("RTX 5090", "B200")


def stock_level(name: str | None) -> int:
    """``High``/``Medium``/``Low``/None as 3/2/1/0."""
    return _LEVELS.get(name or "", 0)


def cuda_version_key(version: str) -> tuple[int, ...]:
    """``"12.8"`` as ``(12, 8)`` for ordering (ValueError when not dotted numbers)."""
    return tuple(int(part) for part in version.split("."))


def runpod_cuda_versions(spec: RunPodGpuType, seed: int) -> list[dict[str, Any]]:
    """The CUDA versions a GPU type's hosts offer (empty for AMD): Blackwell needs 12.8+,
    and only some pools have rolled out 12.9."""
    if spec.manufacturer.upper() != "NVIDIA":
        return []
    versions: list[dict[str, Any]] = []
    for version in RUNPOD_CUDA_VERSIONS:
        available = True
        if spec.display_name in _BLACKWELL and cuda_version_key(version) < (12, 8):
            available = False
        if version == "12.9" and unit_hash(seed, spec.id, "cuda129") < 0.5:
            available = False
        versions.append({"version": version, "available": available})
    return versions


def runpod_pool(spec: RunPodGpuType) -> str | None:
    """The serverless pool id of a GPU type (``ADA_24``), None for types without one."""
    name = spec.display_name
    if spec.manufacturer.upper() == "AMD":
        return None
    if "Ada" in name or name in ("RTX 4090", "RTX 4080", "L40S", "L40", "L4"):
        family = "ADA"
    elif name.startswith(("H100", "H200")):
        family = "HOPPER"
    elif name in _BLACKWELL:
        family = "BLACKWELL"
    else:
        family = "AMPERE"
    return f"{family}_{spec.memory_gb}"


def runpod_datacenter_stock(
    market: RunPodMarket, type_id: str, gpu_count: int, secure: bool, now: float
) -> dict[str, str | None]:
    """Stock per data centre (``High``/``Medium``/``Low``/None) for that many GPUs of a type
    on one cloud; the best data centre has the type's overall stock."""
    overall = stock_level(market.stock_status(type_id, gpu_count, secure, now))
    hour = int(now // HOUR)
    home = int(unit_hash(market.seed, type_id, secure, "home", hour) * len(RUNPOD_DATACENTERS))
    stock: dict[str, str | None] = {}
    for index, (dc_id, _name, _country) in enumerate(RUNPOD_DATACENTERS):
        level = overall
        if index != home:
            roll = unit_hash(market.seed, type_id, secure, dc_id, hour)
            level -= 0 if roll < 0.4 else 1 if roll < 0.7 else 3
        stock[dc_id] = _STOCK_NAMES.get(max(0, level))
    return stock
