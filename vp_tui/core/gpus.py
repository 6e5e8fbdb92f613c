"""The GPU catalog: datasheet figures per model, and provider spellings mapped to one name.

Vast.ai and RunPod spell the same GPU many ways ("RTX_4090", "NVIDIA GeForce RTX 4090",
"A100 SXM4" + 80 GB, "NVIDIA A100-SXM4-80GB"). :func:`canonical_gpu` turns any of them
into one canonical catalog name, or ``None`` when the model is not in the catalog, so
offers can be compared by price per BF16 TFLOP. Figures and sources are documented in
``docs/gpus.md``.

TFLOPs convention: ``bf16_tflops`` is the dense (no 2:4 sparsity) tensor-core BF16 rate
with FP32 accumulate, as the vendor datasheet or architecture whitepaper lists it; for
GeForce cards that is the half-rate FP32-accumulate figure (RTX 4090: 165.2, not the
330.3 FP16-accumulate one). Volta/Turing have no BF16: their FP16 tensor rate with FP32
accumulate is used. Pascal has no tensor cores: P100 uses its FP16 rate, GeForce Pascal
its FP32 rate (FP16 runs at 1/64 there).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class GpuSpec:
    """Datasheet figures of one GPU model, used to rank offers by compute per dollar."""

    name: str
    """Canonical name, e.g. "RTX 4090", "H100 SXM", "A100 SXM 80GB"."""
    vendor: str
    """"NVIDIA" or "AMD"."""
    architecture: str
    """GPU architecture, e.g. "Ada Lovelace", "Hopper"."""
    segment: str
    """"datacenter", "workstation" or "consumer"."""
    vram_gb: float
    """Memory per GPU in GB."""
    bf16_tflops: float
    """Dense tensor BF16 TFLOPs without sparsity (see the module docstring)."""
    fp32_tflops: float
    """Non-tensor FP32 TFLOPs."""
    mem_bandwidth_gbs: float
    """Memory bandwidth in GB/s."""
    source: str
    """Key of the datasheet the figures come from; docs/gpus.md lists each key."""


def _nv(
    name: str,
    architecture: str,
    segment: str,
    vram_gb: float,
    bf16: float,
    fp32: float,
    bandwidth: float,
    source: str,
) -> GpuSpec:
    return GpuSpec(name, "NVIDIA", architecture, segment, vram_gb, bf16, fp32, bandwidth, source)


_DC = "datacenter"
_WS = "workstation"
_CON = "consumer"

# Order matters where several models share a lookup key (A100 SXM, A100 PCIe, V100 ...):
# the first one is chosen when neither the name nor the caller gives a VRAM size.
_CATALOG: tuple[GpuSpec, ...] = (
    # --- datacenter ------------------- name / arch / seg / VRAM / BF16 / FP32 / GB/s / source
    _nv("B200", "Blackwell", _DC, 180, 2250.0, 75.0, 7700, "nv-hgx-b200"),
    _nv("H200 SXM", "Hopper", _DC, 141, 989.5, 67.0, 4800, "nv-h200"),
    _nv("H200 NVL", "Hopper", _DC, 141, 835.5, 60.0, 4800, "nv-h200"),
    _nv("H100 SXM", "Hopper", _DC, 80, 989.5, 67.0, 3350, "nv-h100"),
    _nv("H100 NVL", "Hopper", _DC, 94, 835.5, 60.0, 3900, "nv-h100"),
    _nv("H100 PCIe", "Hopper", _DC, 80, 756.5, 51.0, 2000, "nv-h100"),
    _nv("GH200", "Hopper", _DC, 96, 989.5, 67.0, 4000, "nv-gh200"),
    _nv("A100 SXM 80GB", "Ampere", _DC, 80, 312.0, 19.5, 2039, "nv-a100"),
    _nv("A100 SXM 40GB", "Ampere", _DC, 40, 312.0, 19.5, 1555, "nv-a100"),
    _nv("A100 PCIe 80GB", "Ampere", _DC, 80, 312.0, 19.5, 1935, "nv-a100"),
    _nv("A100 PCIe 40GB", "Ampere", _DC, 40, 312.0, 19.5, 1555, "nv-a100"),
    _nv("L40S", "Ada Lovelace", _DC, 48, 362.05, 91.6, 864, "nv-l40s"),
    _nv("L40", "Ada Lovelace", _DC, 48, 181.05, 90.5, 864, "nv-l40"),
    _nv("L4", "Ada Lovelace", _DC, 24, 121.0, 30.3, 300, "nv-l4"),
    _nv("A40", "Ampere", _DC, 48, 149.7, 37.4, 696, "nv-a40"),
    _nv("A30", "Ampere", _DC, 24, 165.0, 10.3, 933, "nv-a30"),
    _nv("A10", "Ampere", _DC, 24, 125.0, 31.2, 600, "nv-a10"),
    _nv("T4", "Turing", _DC, 16, 65.0, 8.1, 320, "nv-t4"),
    _nv("V100 SXM2 32GB", "Volta", _DC, 32, 125.0, 15.7, 900, "nv-v100"),
    _nv("V100 SXM2 16GB", "Volta", _DC, 16, 125.0, 15.7, 900, "nv-v100"),
    _nv("V100 PCIe 32GB", "Volta", _DC, 32, 112.0, 14.0, 900, "nv-v100"),
    _nv("V100 PCIe 16GB", "Volta", _DC, 16, 112.0, 14.0, 900, "nv-v100"),
    _nv("P100", "Pascal", _DC, 16, 18.7, 9.3, 732, "nv-p100"),
    GpuSpec("MI300X", "AMD", "CDNA 3", _DC, 192, 1307.4, 163.4, 5300, "amd-mi300x"),
    GpuSpec("MI250X", "AMD", "CDNA 2", _DC, 128, 383.0, 47.9, 3276.8, "amd-mi250x"),
    # --- workstation ---------------------------------------------------------------------
    _nv("RTX PRO 6000", "Blackwell", _WS, 96, 503.8, 125.0, 1792, "nv-rtx-pro-6000"),
    _nv("RTX PRO 6000 Max-Q", "Blackwell", _WS, 96, 440.5, 110.0, 1792, "nv-rtx-pro-6000"),
    _nv("RTX 6000 Ada", "Ada Lovelace", _WS, 48, 364.2, 91.1, 960, "nv-rtx-ada"),
    _nv("RTX 5000 Ada", "Ada Lovelace", _WS, 32, 261.1, 65.3, 576, "nv-rtx-ada"),
    _nv("RTX 4500 Ada", "Ada Lovelace", _WS, 24, 158.5, 39.6, 432, "nv-rtx-ada"),
    _nv("RTX 4000 Ada", "Ada Lovelace", _WS, 20, 106.9, 26.7, 360, "nv-rtx-ada"),
    _nv("RTX 4000 SFF Ada", "Ada Lovelace", _WS, 20, 76.7, 19.2, 280, "nv-rtx-ada"),
    _nv("RTX 2000 Ada", "Ada Lovelace", _WS, 16, 48.0, 12.0, 224, "nv-rtx-ada"),
    _nv("RTX A6000", "Ampere", _WS, 48, 154.8, 38.7, 768, "nv-rtx-ampere"),
    _nv("RTX A5000", "Ampere", _WS, 24, 111.1, 27.8, 768, "nv-rtx-ampere"),
    _nv("RTX A4500", "Ampere", _WS, 20, 94.6, 23.7, 640, "nv-rtx-ampere"),
    _nv("RTX A4000", "Ampere", _WS, 16, 76.7, 19.2, 448, "nv-rtx-ampere"),
    _nv("RTX A2000", "Ampere", _WS, 12, 32.0, 8.0, 288, "nv-rtx-ampere"),
    _nv("Quadro RTX 8000", "Turing", _WS, 48, 130.5, 16.3, 672, "nv-quadro-rtx"),
    _nv("Quadro RTX 6000", "Turing", _WS, 24, 130.5, 16.3, 672, "nv-quadro-rtx"),
    # --- consumer ------------------------------------------------------------------------
    _nv("RTX 5090", "Blackwell", _CON, 32, 209.5, 104.8, 1792, "nv-blackwell-wp"),
    _nv("RTX 5080", "Blackwell", _CON, 16, 112.6, 56.3, 960, "nv-blackwell-wp"),
    _nv("RTX 5070 Ti", "Blackwell", _CON, 16, 87.9, 43.9, 896, "nv-geforce-specs"),
    _nv("RTX 5070", "Blackwell", _CON, 12, 61.7, 30.9, 672, "nv-geforce-specs"),
    _nv("RTX 4090", "Ada Lovelace", _CON, 24, 165.2, 82.6, 1008, "nv-ada-wp"),
    _nv("RTX 4080 SUPER", "Ada Lovelace", _CON, 16, 104.4, 52.2, 736, "nv-geforce-specs"),
    _nv("RTX 4080", "Ada Lovelace", _CON, 16, 97.5, 48.7, 716.8, "nv-ada-wp"),
    _nv("RTX 4070 Ti SUPER", "Ada Lovelace", _CON, 16, 88.2, 44.1, 672, "nv-geforce-specs"),
    _nv("RTX 4070 Ti", "Ada Lovelace", _CON, 12, 80.2, 40.1, 504, "nv-ada-wp"),
    _nv("RTX 4070 SUPER", "Ada Lovelace", _CON, 12, 71.0, 35.5, 504, "nv-geforce-specs"),
    _nv("RTX 4070", "Ada Lovelace", _CON, 12, 58.3, 29.1, 504, "nv-geforce-specs"),
    _nv("RTX 4060 Ti", "Ada Lovelace", _CON, 16, 44.1, 22.1, 288, "nv-geforce-specs"),
    _nv("RTX 3090 Ti", "Ampere", _CON, 24, 80.0, 40.0, 1008, "nv-geforce-specs"),
    _nv("RTX 3090", "Ampere", _CON, 24, 71.0, 35.6, 936, "nv-ga102-wp"),
    _nv("RTX 3080 Ti", "Ampere", _CON, 12, 68.2, 34.1, 912, "nv-geforce-specs"),
    _nv("RTX 3080", "Ampere", _CON, 10, 59.5, 29.8, 760, "nv-ga102-wp"),
    _nv("RTX 3070", "Ampere", _CON, 8, 40.6, 20.3, 448, "nv-ga102-wp"),
    _nv("RTX 3060", "Ampere", _CON, 12, 25.5, 12.7, 360, "nv-geforce-specs"),
    _nv("RTX 2080 Ti", "Turing", _CON, 11, 53.8, 13.4, 616, "nv-turing-wp"),
    _nv("GTX 1080 Ti", "Pascal", _CON, 11, 11.3, 11.3, 484, "nv-geforce-specs"),
    _nv("GTX 1070", "Pascal", _CON, 8, 6.5, 6.5, 256, "nv-geforce-specs"),
)

GPUS: dict[str, GpuSpec] = {spec.name: spec for spec in _CATALOG}
"""Every catalogued GPU model: canonical name -> datasheet figures."""

# Spellings that the normalisation below does not already reduce to a catalog name.
# Case, "_"/"-"/spaces, vendor words (NVIDIA, GeForce, Tesla, Quadro, AMD, Instinct),
# "Generation", memory tokens ("80GB", "HBM3", "GDDR6X"), "OAM" and the SXM generation
# digit ("SXM4") never need listing here.
_ALIASES: dict[str, tuple[str, ...]] = {
    "H200 SXM": ("H200",),
    "H100 SXM": ("H100",),  # RunPod "NVIDIA H100 80GB HBM3" is the SXM part
    "GH200": ("GH200 SXM", "GH200 Grace Hopper", "Grace Hopper"),
    "A100 SXM 80GB": ("A100",),
    "A100 SXM 40GB": ("A100",),
    "A100 PCIe 80GB": ("A100X",),  # the converged A100X card: an 80 GB PCIe A100
    "V100 SXM2 32GB": ("V100",),
    "V100 SXM2 16GB": ("V100",),
    "P100": ("P100 PCIe",),
    "RTX PRO 6000": (
        "RTX PRO 6000 Blackwell",
        "RTX PRO 6000 Blackwell Workstation Edition",
        "RTX PRO 6000 Blackwell Server Edition",
        "RTX PRO 6000 Workstation Edition",
        "RTX PRO 6000 Server Edition",
        "RTX PRO 6000 Workstation",
        "RTX PRO 6000 Server",
        "RTX PRO 6000 WS",
        "RTX PRO 6000 S",
    ),
    "RTX PRO 6000 Max-Q": (
        "RTX PRO 6000 MaxQ",
        "RTX PRO 6000 Blackwell Max-Q",
        "RTX PRO 6000 Blackwell Max-Q Workstation Edition",
        "RTX PRO 6000 Max-Q Workstation Edition",
        "RTX PRO 6000 Max-Q Workstation",
    ),
    "RTX 4080 SUPER": ("RTX 4080S",),
    "RTX 4070 Ti SUPER": ("RTX 4070 TiS", "RTX 4070S Ti"),
    "RTX 4070 SUPER": ("RTX 4070S",),
}

_SEPARATORS = re.compile(r"[^A-Z0-9]+")
_ALNUM_BOUNDARY = re.compile(r"(?<=[A-Z])(?=[0-9])|(?<=[0-9])(?=[A-Z])")
_VENDOR_PREFIXES = ("NVIDIA", "GEFORCE", "TESLA", "QUADRO", "AMD", "INSTINCT")
_NOISE_WORDS = frozenset({"GENERATION", "GPU", "TENSOR", "CORE", "OAM"})
_MAX_HINT_DIGITS = 7


def _strip_vendor(token: str) -> str:
    """Drop vendor words, also when glued to the model ("InstinctMI300X")."""
    stripped = True
    while stripped:
        stripped = False
        for word in _VENDOR_PREFIXES:
            if token.startswith(word):
                token = token[len(word) :]
                stripped = True
    return token


def _normalise(name: str) -> tuple[str, float | None]:
    """Reduce a spelling to a lookup key plus the memory size it names, if any.

    "NVIDIA A100-SXM4-80GB" -> ("A 100 SXM", 80.0); "RTX 6000Ada" -> ("RTX 6000 ADA", None).
    Letters and digits are split into separate tokens so "A100", "A-100" and "a_100" agree,
    while "A10" and "A100" stay different keys.
    """
    text = _ALNUM_BOUNDARY.sub(" ", _SEPARATORS.sub(" ", name.upper()))
    raw = text.split()
    tokens: list[str] = []
    hint: float | None = None
    i, count = 0, len(raw)
    while i < count:
        token = _strip_vendor(raw[i])
        following = raw[i + 1] if i + 1 < count else ""
        i += 1
        if not token or token in _NOISE_WORDS:
            continue
        if token.isdigit() and following in ("GB", "MB"):
            if hint is None and len(token) <= _MAX_HINT_DIGITS:
                hint = float(token) / (1024 if following == "MB" else 1)
            i += 1
        elif token in ("HBM", "GDDR"):
            if i < count and raw[i].isdigit() and len(raw[i]) == 1:
                i += 1
                if i < count and raw[i] in ("E", "X"):
                    i += 1
        elif token == "SXM":
            tokens.append(token)
            if i < count and raw[i].isdigit() and len(raw[i]) == 1:
                i += 1
        elif token == "PCI" and following == "E":
            tokens.append("PCIE")
            i += 1
        elif token == "Q" and following == "RTX":
            continue  # Vast's "Q RTX 8000" is the Quadro
        else:
            tokens.append(token)
    return " ".join(tokens), hint


def _build_index() -> dict[str, tuple[str, ...]]:
    """Lookup key -> canonical names sharing it (more than one only for VRAM variants)."""
    index: dict[str, list[str]] = {}

    def add(spelling: str, canonical: str) -> None:
        key, _ = _normalise(spelling)
        names = index.setdefault(key, [])
        if canonical not in names:
            names.append(canonical)

    for spec in _CATALOG:
        add(spec.name, spec.name)
    for spec in _CATALOG:
        # "4090", "A6000", "6000 Ada": the model number alone is unambiguous here.
        if spec.name.startswith(("RTX ", "GTX ")) and not spec.name.startswith("RTX PRO"):
            add(spec.name[4:], spec.name)
    for canonical, spellings in _ALIASES.items():
        for spelling in spellings:
            add(spelling, canonical)
    return {key: tuple(names) for key, names in index.items()}


_INDEX: dict[str, tuple[str, ...]] = _build_index()


@lru_cache(maxsize=8192)
def _lookup(name: str) -> tuple[tuple[str, ...], float | None]:
    key, hint = _normalise(name)
    return _INDEX.get(key, ()), hint


def _as_gb(value: object) -> float | None:
    """A usable memory size in GB, or None; values above 1000 are taken to be MB."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    size = float(value)
    if not math.isfinite(size) or size <= 0:
        return None
    return size / 1024 if size > 1000 else size


def canonical_gpu(name: str, vram_gb: float | None = None) -> str | None:
    """The catalog name for a provider's GPU spelling, or None when the model is unknown.

    Case, "_", "-", extra spaces and vendor words do not matter. Where models differ only
    in memory (A100 40/80 GB, V100 16/32 GB) a size in the name wins, then ``vram_gb``
    (nearest catalog size; above 1000 it is read as MB), else the most common variant.
    Never raises.
    """
    if not isinstance(name, str):
        return None
    candidates, hint = _lookup(name)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    target = _as_gb(hint)
    if target is None:
        target = _as_gb(vram_gb)
    if target is None:
        return candidates[0]
    size = target
    return min(candidates, key=lambda candidate: abs(GPUS[candidate].vram_gb - size))


def gpu_spec(canonical: str | None) -> GpuSpec | None:
    """The figures for a catalog name (any spelling ``canonical_gpu`` knows), else None."""
    if canonical is None:
        return None
    spec = GPUS.get(canonical)
    if spec is None:
        resolved = canonical_gpu(canonical)
        spec = GPUS.get(resolved) if resolved is not None else None
    return spec


def all_gpus() -> list[GpuSpec]:
    """Every catalogued GPU: datacenter, then workstation, then consumer, newest first."""
    return list(_CATALOG)
