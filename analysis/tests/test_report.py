"""analysis/ on a fixture sweep (analysis/tests/fixture/: hello and
cpuid-loop 1000 at depths 0-2, VMCS shadowing on and off at depth 2, one
failed run), whose numbers were chosen so that every metric has a known
value: cycles per logical exit 2,000 at depth 1, 40,000 at depth 2 with
shadowing and 100,000 without. Figures are checked from their matplotlib
objects (series, axes, values), tables from their text.

Run by CTest (analysis.pytest); by hand:
    NESTBED_ARCH_JSON=build/arch/nestbed_arch.json python3 -m pytest analysis/tests
"""
import math
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import arch_names  # noqa: E402
import metrics  # noqa: E402
import report  # noqa: E402
import tables  # noqa: E402

FIXTURE = HERE / "fixture"


@pytest.fixture(scope="module")
def arch_json():
    return arch_names.find_arch_json()


@pytest.fixture(scope="module")
def built(arch_json):
    return report.build(FIXTURE, arch_json)


def point(summary, workload, depth, mechanism="default"):
    rows = summary[(summary["workload"] == workload) & (summary["depth"] == depth) &
                   ((summary["mechanism"] == mechanism) | (depth == 0))]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_failed_runs_are_left_out(built):
    _, summary, _ = built
    assert not ((summary["workload"] == "cpuid-loop") & (summary["depth"] == 3)).any()
    assert len(summary) == 8


def test_metrics_from_the_data(built):
    _, s, _ = built
    d1, d2, d2_trap = point(s, "cpuid-loop", 1), point(s, "cpuid-loop", 2), point(s, "cpuid-loop", 2, "shadow_vmcs=0")
    assert d1["logical_exits"] == 1030 and d1["hw_exits"] == 1030
    assert d1["multiplication"] == pytest.approx(1.0)
    assert d2["multiplication"] == pytest.approx(2700 / 1030)
    assert d2_trap["multiplication"] == pytest.approx(13)
    assert d1["cycles_per_exit"] == pytest.approx(2000)
    assert d2["cycles_per_exit"] == pytest.approx(40000)
    assert d2_trap["cycles_per_exit"] == pytest.approx(100000)
    assert d2["overhead"] == pytest.approx(43110000 / 120000 - 1)
    assert d2["overhead_wall"] == pytest.approx(0.5 / 0.01 - 1)
    assert d2["efficiency"] == pytest.approx(5000 / 2000000)
    assert point(s, "cpuid-loop", 0)["efficiency"] == 1
    assert math.isnan(point(s, "hello", 1)["cycles_per_exit"])  # hello is the baseline


def test_multiplication_figure(built):
    figs, _, _ = built
    ax = figs["multiplication"].axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel().startswith("depth")
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert list(lines["cpuid-loop, default"].get_xdata()) == [1, 2]
    assert list(lines["cpuid-loop, default"].get_ydata()) == pytest.approx([1.0, 2700 / 1030])
    assert list(lines["cpuid-loop, shadow_vmcs=0"].get_xdata()) == [2]
    assert list(lines["cpuid-loop, shadow_vmcs=0"].get_ydata()) == pytest.approx([13])
    published = {l: line for l, line in lines.items() if l.startswith("published: cpuid-loop")}
    # Turtles: 13 exits per L2 cpuid trapping, 2 non-trapping; pio-loop is not in the sweep.
    assert sorted(float(p.get_ydata()[0]) for p in published.values()) == [2.0, 13.0]
    assert not any(l.startswith("published: pio-loop") for l in lines)


def test_cycles_per_exit_figure(built):
    figs, _, _ = built
    ax = figs["cycles_per_exit"].axes[0]
    assert ax.get_yscale() == "log"
    lines = {l.get_label(): l for l in ax.get_lines()}
    assert list(lines["cpuid-loop, default"].get_ydata()) == pytest.approx([2000, 40000])
    published = sorted(float(l.get_ydata()[0]) for k, l in lines.items() if k.startswith("published:"))
    assert published == [2600.0, 58000.0]


def test_overhead_and_efficiency_figures(built):
    figs, _, _ = built
    modeled, wall = figs["overhead"].axes
    line = {l.get_label(): l for l in modeled.get_lines()}["cpuid-loop, default"]
    assert list(line.get_xdata()) == [0, 1, 2]
    assert list(line.get_ydata()) == pytest.approx([0, 100 * (2410000 / 120000 - 1), 100 * (43110000 / 120000 - 1)])
    assert "wall" in wall.get_title()
    eff = {l.get_label(): l for l in figs["efficiency"].axes[0].get_lines()}["hello, default"]
    assert list(eff.get_ydata()) == pytest.approx([1.0, 1000 / 51000, 1000 / 500000])


def test_exits_by_level_figure_stacks_levels_and_reasons(built, arch_json):
    figs, _, _ = built
    fig = figs["exits_by_level"]
    ax = {ax.get_title(): ax for ax in fig.axes}["cpuid-loop"]
    # A bar per depth and level that exited (default mechanisms).
    assert [t.get_text() for t in ax.get_xticklabels()] == ["d1\nL2", "d2\nL2", "d2\nL3"]
    # Stacked by reason, in exit-reason number order (the arch JSON's).
    reasons = [t.get_text() for t in fig.legends[0].get_texts()]
    assert reasons == ["CPUID", "VMREAD", "VMRESUME", "IO_INSTRUCTION"]
    order = arch_names.exit_reasons(arch_json)
    assert [order[r] for r in reasons] == sorted(order[r] for r in reasons)
    heights = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}
    assert heights["CPUID"] == [1000, 0, 1000]
    assert heights["VMRESUME"] == [0, 1030, 0]
    assert [sum(h[k] for h in heights.values()) for k in range(3)] == [1030, 1670, 1030]


def test_tables(built):
    _, summary, _ = built
    md = tables.markdown(summary)
    assert md.splitlines()[0] == ("| workload | depth | mechanism | logical exits | hardware exits | multiplication "
                                  "| cycles/exit | overhead | efficiency |")
    assert "| cpuid-loop | 2 | shadow_vmcs=0 | 1,030 | 13,390 | 13.00× | 100,000 |" in md
    tex = tables.latex(summary)
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"cpuid-loop & 2 & shadow\_vmcs=0 & 1,030 & 13,390 & 13.00$\times$ & 100,000" in tex


def test_report_writes_every_file(tmp_path, arch_json):
    for name in ("results.csv", "levels.csv", "exits.csv"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    assert report.main([str(tmp_path), "--arch-json", str(arch_json), "--quiet"]) == 0
    for name in report.FIGURES:
        for ext in ("png", "svg"):
            assert (tmp_path / "figures" / f"{name}.{ext}").stat().st_size > 0
    for name in ("summary.md", "summary.tex", "summary.csv"):
        assert (tmp_path / "tables" / name).stat().st_size > 0


def test_unknown_exit_reason_is_an_error(tmp_path, arch_json):
    for name in ("results.csv", "levels.csv"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    text = (FIXTURE / "exits.csv").read_text().replace(",CPUID,", ",NO_SUCH_REASON,")
    (tmp_path / "exits.csv").write_text(text)
    with pytest.raises(SystemExit, match="NO_SUCH_REASON"):
        report.build(tmp_path, arch_json)
