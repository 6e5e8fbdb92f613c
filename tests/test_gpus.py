"""The GPU catalog and the mapping of provider spellings to catalog names."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vp_tui.core.gpus import GPUS, GpuSpec, all_gpus, canonical_gpu, gpu_spec

DOCS = Path(__file__).resolve().parent.parent / "docs" / "gpus.md"

VAST_SPELLINGS: list[tuple[str, float | None, str]] = [
    ("RTX 4090", None, "RTX 4090"),
    ("RTX_4090", None, "RTX 4090"),
    ("H100 SXM", None, "H100 SXM"),
    ("H100 PCIE", None, "H100 PCIe"),
    ("H100 NVL", None, "H100 NVL"),
    ("A100 SXM4", 80, "A100 SXM 80GB"),
    ("A100 SXM4", 40, "A100 SXM 40GB"),
    ("A100 SXM4", 81920, "A100 SXM 80GB"),  # MB by mistake
    ("A100 SXM4", 40960, "A100 SXM 40GB"),
    ("A100 SXM4", None, "A100 SXM 80GB"),
    ("A100 PCIE", 80, "A100 PCIe 80GB"),
    ("A100 PCIE", 40, "A100 PCIe 40GB"),
    ("A100 PCIE", 39.5, "A100 PCIe 40GB"),
    ("A100 PCIE", None, "A100 PCIe 80GB"),
    ("A100X", None, "A100 PCIe 80GB"),
    ("RTX 6000Ada", None, "RTX 6000 Ada"),
    ("RTX 5000Ada", None, "RTX 5000 Ada"),
    ("RTX 4500Ada", None, "RTX 4500 Ada"),
    ("RTX 4000Ada", None, "RTX 4000 Ada"),
    ("RTX 2000Ada", None, "RTX 2000 Ada"),
    ("RTX A6000", None, "RTX A6000"),
    ("RTX A5000", None, "RTX A5000"),
    ("RTX A4500", None, "RTX A4500"),
    ("RTX A4000", None, "RTX A4000"),
    ("RTX A2000", None, "RTX A2000"),
    ("Q RTX 8000", None, "Quadro RTX 8000"),
    ("Q RTX 6000", None, "Quadro RTX 6000"),
    ("Quadro RTX 8000", None, "Quadro RTX 8000"),
    ("Tesla V100", None, "V100 SXM2 32GB"),
    ("Tesla V100", 16, "V100 SXM2 16GB"),
    ("Tesla V100", 16384, "V100 SXM2 16GB"),
    ("Tesla V100", 32, "V100 SXM2 32GB"),
    ("Tesla T4", None, "T4"),
    ("Tesla P100", None, "P100"),
    ("GTX 1080 Ti", None, "GTX 1080 Ti"),
    ("GTX 1070", None, "GTX 1070"),
    ("L40S", None, "L40S"),
    ("L40", None, "L40"),
    ("L4", None, "L4"),
    ("A40", None, "A40"),
    ("A30", None, "A30"),
    ("A10", None, "A10"),
    ("H200", None, "H200 SXM"),
    ("H200 NVL", None, "H200 NVL"),
    ("B200", None, "B200"),
    ("GH200 SXM", None, "GH200"),
    ("RTX 5090", None, "RTX 5090"),
    ("RTX 5080", None, "RTX 5080"),
    ("RTX 5070 Ti", None, "RTX 5070 Ti"),
    ("RTX 4080S", None, "RTX 4080 SUPER"),
    ("RTX 4070S Ti", None, "RTX 4070 Ti SUPER"),
    ("RTX 4060 Ti", 16, "RTX 4060 Ti"),
    ("RTX 3090", None, "RTX 3090"),
    ("RTX 3090 Ti", None, "RTX 3090 Ti"),
    ("RTX 3080 Ti", None, "RTX 3080 Ti"),
    ("RTX 3060", None, "RTX 3060"),
    ("RTX 2080 Ti", None, "RTX 2080 Ti"),
    ("InstinctMI300X", None, "MI300X"),
    ("MI300X", None, "MI300X"),
    ("MI250X", None, "MI250X"),
    ("RTX PRO 6000 WS", None, "RTX PRO 6000"),
    ("RTX PRO 6000 S", None, "RTX PRO 6000"),
    ("RTX PRO 6000 Max-Q", None, "RTX PRO 6000 Max-Q"),
]

RUNPOD_SPELLINGS: list[tuple[str, float | None, str]] = [
    # GPU type ids
    ("NVIDIA GeForce RTX 4090", None, "RTX 4090"),
    ("NVIDIA H100 80GB HBM3", None, "H100 SXM"),
    ("NVIDIA H100 PCIe", None, "H100 PCIe"),
    ("NVIDIA H100 NVL", None, "H100 NVL"),
    ("NVIDIA H200", None, "H200 SXM"),
    ("NVIDIA H200 NVL", None, "H200 NVL"),
    ("NVIDIA B200", None, "B200"),
    ("NVIDIA A100-SXM4-80GB", None, "A100 SXM 80GB"),
    ("NVIDIA A100-SXM4-80GB", 40, "A100 SXM 80GB"),  # the name's size wins
    ("NVIDIA A100-SXM4-40GB", None, "A100 SXM 40GB"),
    ("NVIDIA A100 80GB PCIe", None, "A100 PCIe 80GB"),
    ("NVIDIA A100-PCIE-40GB", None, "A100 PCIe 40GB"),
    ("NVIDIA RTX 6000 Ada Generation", None, "RTX 6000 Ada"),
    ("NVIDIA RTX 5000 Ada Generation", None, "RTX 5000 Ada"),
    ("NVIDIA RTX 4000 Ada Generation", None, "RTX 4000 Ada"),
    ("NVIDIA RTX 4000 SFF Ada Generation", None, "RTX 4000 SFF Ada"),
    ("NVIDIA RTX 2000 Ada Generation", None, "RTX 2000 Ada"),
    ("NVIDIA RTX A6000", None, "RTX A6000"),
    ("NVIDIA RTX A5000", None, "RTX A5000"),
    ("NVIDIA RTX A4500", None, "RTX A4500"),
    ("NVIDIA RTX A4000", None, "RTX A4000"),
    ("NVIDIA L40S", None, "L40S"),
    ("NVIDIA L40", None, "L40"),
    ("NVIDIA L4", None, "L4"),
    ("NVIDIA A40", None, "A40"),
    ("NVIDIA A30", None, "A30"),
    ("Tesla V100-SXM2-32GB", None, "V100 SXM2 32GB"),
    ("Tesla V100-SXM2-16GB", None, "V100 SXM2 16GB"),
    ("Tesla V100-PCIE-16GB", None, "V100 PCIe 16GB"),
    ("Tesla V100-PCIE-32GB", None, "V100 PCIe 32GB"),
    ("AMD Instinct MI300X OAM", None, "MI300X"),
    ("NVIDIA GeForce RTX 5090", None, "RTX 5090"),
    ("NVIDIA GeForce RTX 5080", None, "RTX 5080"),
    ("NVIDIA GeForce RTX 3090", None, "RTX 3090"),
    ("NVIDIA GeForce RTX 3090 Ti", None, "RTX 3090 Ti"),
    ("NVIDIA GeForce RTX 3080", None, "RTX 3080"),
    ("NVIDIA GeForce RTX 3080 Ti", None, "RTX 3080 Ti"),
    ("NVIDIA GeForce RTX 3070", None, "RTX 3070"),
    ("NVIDIA GeForce RTX 4080", None, "RTX 4080"),
    ("NVIDIA GeForce RTX 4080 SUPER", None, "RTX 4080 SUPER"),
    ("NVIDIA GeForce RTX 4070 Ti", None, "RTX 4070 Ti"),
    ("NVIDIA GH200 480GB", None, "GH200"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", None, "RTX PRO 6000"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", None, "RTX PRO 6000"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", None, "RTX PRO 6000 Max-Q"),
    # display names
    ("RTX 4090", None, "RTX 4090"),
    ("H100 SXM", None, "H100 SXM"),
    ("H100 PCIe", None, "H100 PCIe"),
    ("A100 SXM", 80, "A100 SXM 80GB"),
    ("A100 SXM", None, "A100 SXM 80GB"),
    ("A100 PCIe", 80, "A100 PCIe 80GB"),
    ("A100 PCIe", None, "A100 PCIe 80GB"),
    ("RTX 6000 Ada", None, "RTX 6000 Ada"),
    ("RTX A6000", None, "RTX A6000"),
    ("MI300X", None, "MI300X"),
    ("L40S", None, "L40S"),
    ("H100 NVL", None, "H100 NVL"),
    ("RTX 5090", None, "RTX 5090"),
]

OTHER_SPELLINGS: list[tuple[str, float | None, str]] = [
    ("  nvidia   geforce   rtx   4090  ", None, "RTX 4090"),
    ("rtx-4090", None, "RTX 4090"),
    ("RTX4090", None, "RTX 4090"),
    ("GeForceRTX4090", None, "RTX 4090"),
    ("4090", None, "RTX 4090"),
    ("A6000", None, "RTX A6000"),
    ("gtx_1080_ti", None, "GTX 1080 Ti"),
    ("GTX1080Ti", None, "GTX 1080 Ti"),
    ("H100 SXM5", None, "H100 SXM"),
    ("H100 SXM5 80GB", None, "H100 SXM"),
    ("H100 PCI-E", None, "H100 PCIe"),
    ("A100 80GB", None, "A100 SXM 80GB"),
    ("A100 40GB", None, "A100 SXM 40GB"),
    ("A100 SXM4 81920MB", None, "A100 SXM 80GB"),
    ("NVIDIA A100", 40.0, "A100 SXM 40GB"),
    ("NVIDIA L40S 48GB GDDR6", None, "L40S"),
    ("NVIDIA H200 141GB HBM3e", None, "H200 SXM"),
    ("NVIDIA GeForce RTX 3090 24GB GDDR6X", None, "RTX 3090"),
    ("NVIDIA Tesla T4", None, "T4"),
    ("Tesla P100-PCIE-16GB", None, "P100"),
    ("AMD Instinct MI250X", None, "MI250X"),
    ("RTX PRO 6000 MaxQ", None, "RTX PRO 6000 Max-Q"),
]


@pytest.mark.parametrize(
    ("spelling", "vram", "expected"),
    VAST_SPELLINGS + RUNPOD_SPELLINGS + OTHER_SPELLINGS,
)
def test_provider_spellings_map_to_one_name(
    spelling: str, vram: float | None, expected: str
) -> None:
    assert expected in GPUS
    assert canonical_gpu(spelling, vram) == expected


@pytest.mark.parametrize(
    "spelling",
    [
        "",
        "   ",
        "GPU",
        "NVIDIA",
        "RTX",
        "RTX 3070 Ti",  # unknown Ti variant: not the plain RTX 3070
        "RTX 3060 Ti",
        "RTX 4090 D",
        "RTX 4090D",
        "A10G",
        "A800 PCIE",
        "H800",
        "MI325X",
        "RTX 5000",  # the Turing Quadro RTX 5000, not catalogued
        "Titan RTX",
        "RTX 40900",
        "P100 SXM2",
    ],
)
def test_unknown_spellings_give_none(spelling: str) -> None:
    assert canonical_gpu(spelling) is None
    assert canonical_gpu(spelling, 24) is None


@pytest.mark.parametrize(
    "names",
    [
        ("H100 SXM", "H100 PCIe", "H100 NVL"),
        ("H200", "H200 NVL"),
        ("RTX A6000", "RTX 6000 Ada", "Quadro RTX 6000", "Quadro RTX 8000", "RTX PRO 6000"),
        ("RTX PRO 6000", "RTX PRO 6000 Max-Q"),
        ("RTX 4000 Ada", "RTX A4000", "RTX 4000 SFF Ada"),
        ("RTX 2000 Ada", "RTX A2000"),
        ("RTX 4080", "RTX 4080 SUPER"),
        ("RTX 4070", "RTX 4070 Ti", "RTX 4070 SUPER", "RTX 4070 Ti SUPER"),
        ("RTX 3090", "RTX 3090 Ti"),
        ("RTX 3080", "RTX 3080 Ti"),
        ("A10", "A100", "A100X"),
        ("A40", "A4000", "A4500"),
        ("L4", "L40", "L40S"),
        ("GH200", "H200"),
        ("MI300X", "MI250X"),
        ("V100 PCIe", "V100 SXM2"),
    ],
)
def test_variants_that_differ_in_speed_stay_distinct(names: tuple[str, ...]) -> None:
    resolved = [canonical_gpu(name) for name in names]
    assert None not in resolved
    assert len(set(resolved)) == len(names), resolved


@pytest.mark.parametrize("name", sorted(GPUS))
def test_canonical_names_map_to_themselves(name: str) -> None:
    assert canonical_gpu(name) == name
    assert canonical_gpu(name.upper()) == name
    assert canonical_gpu(name.replace(" ", "_")) == name
    # a size in the catalog name beats a contradicting size from the caller
    assert canonical_gpu(name, 1.0) == name
    assert canonical_gpu(name, 500.0) == name


def test_catalog_size_and_keys() -> None:
    assert len(GPUS) >= 35
    assert all(name == spec.name for name, spec in GPUS.items())
    assert [spec.name for spec in all_gpus()] == list(GPUS)


@pytest.mark.parametrize("spec", all_gpus(), ids=lambda spec: spec.name)
def test_every_spec_is_plausible(spec: GpuSpec) -> None:
    assert spec.vendor in {"NVIDIA", "AMD"}
    assert spec.segment in {"datacenter", "workstation", "consumer"}
    assert spec.architecture
    assert spec.source
    for value in (spec.vram_gb, spec.bf16_tflops, spec.fp32_tflops, spec.mem_bandwidth_gbs):
        assert math.isfinite(value)
        assert value > 0
    assert 4 <= spec.vram_gb <= 256
    # tensor BF16 is never slower than plain FP32 (equal only without tensor cores)
    assert spec.bf16_tflops >= spec.fp32_tflops


def test_specs_are_frozen() -> None:
    spec = GPUS["RTX 4090"]
    with pytest.raises(AttributeError):
        spec.vram_gb = 48  # type: ignore[misc]


def test_some_datasheet_figures() -> None:
    assert GPUS["H100 SXM"].bf16_tflops == pytest.approx(989.5)
    assert GPUS["A100 SXM 80GB"].bf16_tflops == pytest.approx(312)
    assert GPUS["A100 SXM 80GB"].mem_bandwidth_gbs == pytest.approx(2039)
    assert GPUS["A100 SXM 40GB"].mem_bandwidth_gbs == pytest.approx(1555)
    assert GPUS["RTX 4090"].bf16_tflops == pytest.approx(165.2)
    assert GPUS["RTX 4090"].fp32_tflops == pytest.approx(82.6)
    assert GPUS["MI300X"].vram_gb == 192


def test_gpu_spec_lookup() -> None:
    assert gpu_spec(None) is None
    assert gpu_spec("No Such GPU") is None
    assert gpu_spec("RTX 4090") is GPUS["RTX 4090"]
    assert gpu_spec("NVIDIA GeForce RTX 4090") is GPUS["RTX 4090"]


def test_keys_shared_by_several_models_are_vram_variants() -> None:
    from vp_tui.core import gpus

    for key, names in gpus._INDEX.items():
        if len(names) > 1:
            sizes = [GPUS[name].vram_gb for name in names]
            assert len(set(sizes)) == len(sizes), (key, names)
            speeds = {GPUS[name].bf16_tflops for name in names}
            assert len(speeds) == 1, (key, names)


def test_docs_table_matches_the_catalog() -> None:
    text = DOCS.read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 9:
            rows[cells[0]] = cells
    sources = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE))
    for spec in all_gpus():
        cells = rows[spec.name]
        assert cells[1:4] == [spec.vendor, spec.architecture, spec.segment], spec.name
        figures = [float(cell) for cell in cells[4:8]]
        expected = [spec.vram_gb, spec.bf16_tflops, spec.fp32_tflops, spec.mem_bandwidth_gbs]
        assert figures == pytest.approx(expected), spec.name
        assert cells[8] == f"`{spec.source}`", spec.name
        assert spec.source in sources, spec.source


_VRAM = st.none() | st.floats(allow_nan=True, allow_infinity=True)


@given(name=st.text(), vram=_VRAM)
def test_canonical_gpu_never_raises(name: str, vram: float | None) -> None:
    result = canonical_gpu(name, vram)
    assert result is None or result in GPUS


@given(
    name=st.text(alphabet="AaBbDdGgHhIiLlMmPpQqRrSsTtVvXx0123456789 _-", max_size=24),
    vram=_VRAM | st.integers(min_value=-(10**30), max_value=10**30),
)
def test_canonical_gpu_never_raises_on_gpu_like_text(name: str, vram: float | None) -> None:
    result = canonical_gpu(name, vram)
    assert result is None or result in GPUS


def test_canonical_gpu_tolerates_non_strings() -> None:
    assert canonical_gpu(None) is None  # type: ignore[arg-type]
    assert canonical_gpu(4090) is None  # type: ignore[arg-type]
    assert canonical_gpu("RTX 4090", "24") == "RTX 4090"  # type: ignore[arg-type]
    assert canonical_gpu("A100 SXM4", "40") == "A100 SXM 80GB"  # type: ignore[arg-type]


_SEPARATOR = st.sampled_from([" ", "_", "-", "  ", " _ ", "--"])
_PREFIX = {
    "consumer": ["", "NVIDIA ", "GeForce ", "NVIDIA GeForce ", "nvidia_geforce_"],
    "workstation": ["", "NVIDIA ", "nvidia-"],
    "datacenter": ["", "NVIDIA ", "Tesla ", "nvidia_"],
}


@st.composite
def _respelled(draw: st.DrawFn) -> tuple[str, str]:
    """A catalog name with random case, separators and vendor prefix, and that name."""
    spec = draw(st.sampled_from(all_gpus()))
    name = spec.name
    out: list[str] = []
    for i, char in enumerate(name):
        before = name[i - 1] if i > 0 else ""
        after = name[i + 1] if i + 1 < len(name) else ""
        if char in " -":
            mixed = before.isdigit() != after.isdigit()
            out.append(draw(st.sampled_from(["", " "]) if mixed else _SEPARATOR))
            continue
        if before and before.isalnum() and before.isdigit() != char.isdigit():
            out.append(draw(st.sampled_from(["", "", "-", "_", " "])))
        out.append(char.upper() if draw(st.booleans()) else char.lower())
    if spec.vendor == "AMD":
        prefix = draw(st.sampled_from(["", "AMD ", "AMD Instinct ", "Instinct", "amd_instinct_"]))
    else:
        prefix = draw(st.sampled_from(_PREFIX[spec.segment]))
    suffix = draw(st.sampled_from(["", " ", "_", " -"]))
    return prefix + "".join(out) + suffix, name


@given(case=_respelled(), vram=_VRAM)
def test_respelled_catalog_names_still_map(case: tuple[str, str], vram: float | None) -> None:
    spelling, name = case
    assert canonical_gpu(spelling, vram) == name
    assert canonical_gpu(spelling, GPUS[name].vram_gb) == name
