#!/usr/bin/env python3
"""Figures and tables of a `nestbed sweep` folder (experiments/README.md).

    python3 analysis/report.py DIR [--arch-json FILE] [--quiet]
    nestbed report DIR                    (the same, through nestbed)

writes DIR/figures/{exits_by_level,multiplication,cycles_per_exit,overhead,
efficiency}.{png,svg} and DIR/tables/summary.{md,tex}, and prints the
summary table (Markdown) on stdout. Needs Debian's python3-pandas and
python3-matplotlib; exit-reason names come from the generated arch JSON
(build/arch/nestbed_arch.json), published values from analysis/reference.csv.
"""
import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

try:
    import arch_names  # noqa: E402
    import figures  # noqa: E402
    import metrics  # noqa: E402
    import tables  # noqa: E402
except ModuleNotFoundError as e:
    raise SystemExit(f"report: {e.name} is missing: analysis/ needs Debian's python3-pandas and python3-matplotlib "
                     f"(scripts/install-deps.sh); this is {sys.executable}")

REFERENCE = HERE / "reference.csv"
FIGURES = ("exits_by_level", "multiplication", "cycles_per_exit", "overhead", "efficiency")


def build(sweep_dir, arch_json):
    """{name: Figure}, the summary DataFrame and the exits table."""
    reason_order = arch_names.exit_reasons(arch_json)
    results, _levels, exits = metrics.load(sweep_dir)
    unknown = sorted(set(exits["reason"]) - set(reason_order))
    if unknown:
        raise SystemExit(f"report: exit reasons not in {arch_json}: {', '.join(unknown)}")
    if results.empty:
        raise SystemExit(f"report: {sweep_dir}/results.csv has no successful run")
    summary = metrics.summary(results)
    reference = metrics.read_reference(REFERENCE)
    exits_table = metrics.exits_by_level_reason(exits, reason_order)
    figs = {
        "exits_by_level": figures.exits_by_level(exits_table, reason_order),
        "multiplication": figures.multiplication(summary, reference),
        "cycles_per_exit": figures.cycles_per_exit(summary, reference),
        "overhead": figures.overhead(summary),
        "efficiency": figures.efficiency(summary),
    }
    return figs, summary, exits_table


def write(sweep_dir, figs, summary):
    out_figures, out_tables = Path(sweep_dir) / "figures", Path(sweep_dir) / "tables"
    out_figures.mkdir(exist_ok=True)
    out_tables.mkdir(exist_ok=True)
    for name, fig in figs.items():
        for ext in ("png", "svg"):
            # No timestamps in the SVG/PNG metadata: the same data gives the same files.
            fig.savefig(out_figures / f"{name}.{ext}", dpi=120, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else {})
    (out_tables / "summary.md").write_text(tables.markdown(summary))
    (out_tables / "summary.tex").write_text(tables.latex(summary))
    summary.to_csv(out_tables / "summary.csv", index=False)
    return out_figures, out_tables


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", help="a nestbed sweep --out folder (with results.csv, levels.csv, exits.csv)")
    p.add_argument("--arch-json", help="build/arch/nestbed_arch.json (default: found beside the repository)")
    p.add_argument("--quiet", action="store_true", help="do not print the summary table")
    opts = p.parse_args(argv)
    if not (Path(opts.dir) / "results.csv").is_file():
        raise SystemExit(f"report: {opts.dir}/results.csv not found (run `nestbed sweep SPEC --out {opts.dir}` first)")
    figs, summary, _ = build(opts.dir, arch_names.find_arch_json(opts.arch_json))
    out_figures, out_tables = write(opts.dir, figs, summary)
    if not opts.quiet:
        print(tables.markdown(summary))
    print(f"report: figures in {out_figures}/ ({', '.join(FIGURES)}; .png and .svg), "
          f"tables in {out_tables}/ (summary.md, summary.tex, summary.csv)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
