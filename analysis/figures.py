"""The figures of a sweep (experiments/README.md "Figures"); each function
returns a matplotlib Figure whose lines/bars carry the data (tests check the
series, axes and numbers from these objects). Series are the mechanisms
(l1-vmm options); published values (analysis/reference.csv) are marked with
black stars labelled "published: ...".
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

MARKERS = "osD^v<>"


def _series(summary):
    """(workload, mechanism, cost_model, engine) -> rows by depth."""
    for key, g in summary.groupby(["workload", "mechanism", "cost_model", "engine"], sort=True):
        yield key, g.sort_values("depth")


def _label(key, summary):
    workload, mechanism, cost_model, engine = key
    parts = [workload, mechanism]
    if summary["cost_model"].nunique() > 1:
        parts.append(cost_model or "default costs")
    if summary["engine"].nunique() > 1:
        parts.append(engine)
    return ", ".join(parts)


def _mark_reference(ax, reference, metric, workloads):
    ref = reference[(reference["metric"] == metric) & (reference["workload"].isin(workloads))]
    for _, r in ref.iterrows():
        ax.plot([r["depth"]], [r["value"]], linestyle="none", marker="*", markersize=12, color="black",
                label=f"published: {r['workload']}, {r['mechanism']}, depth {r['depth']} ({r['source'].split(':')[0]})")


def _line_figure(summary, column, ylabel, title, log=False, reference=None, metric=None, min_depth=0):
    fig, ax = plt.subplots(figsize=(10, 4.5))
    data = summary[summary["depth"] >= min_depth].dropna(subset=[column])
    for k, (key, g) in enumerate(_series(data)):
        ax.plot(g["depth"], g[column], marker=MARKERS[k % len(MARKERS)], label=_label(key, summary))
    if reference is not None:
        _mark_reference(ax, reference, metric, set(data["workload"]))
    ax.set_xlabel("depth (l1-vmm levels under the workload)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    depths = sorted(data["depth"].unique())
    if depths:
        ax.set_xticks(depths)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def multiplication(summary, reference):
    return _line_figure(summary, "multiplication", "hardware exits per logical exit (log)",
                        "Exit multiplication vs depth", log=True, reference=reference, metric="multiplication",
                        min_depth=1)


def cycles_per_exit(summary, reference):
    return _line_figure(summary, "cycles_per_exit", "modeled cycles per logical exit (log)",
                        "Cost of a logical exit vs depth", log=True, reference=reference, metric="cycles_per_exit",
                        min_depth=1)


def overhead(summary):
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharex=True)
    for ax, column, what in ((axes[0], "overhead", "modeled cycles"), (axes[1], "overhead_wall", "host wall time")):
        data = summary.dropna(subset=[column])
        for k, (key, g) in enumerate(_series(data)):
            ax.plot(g["depth"], 100 * g[column], marker=MARKERS[k % len(MARKERS)], label=_label(key, summary))
        ax.set_xlabel("depth (l1-vmm levels under the workload)")
        ax.set_ylabel(f"overhead over native, % ({what})")
        ax.set_title(f"Overhead vs depth: {what}")
        ax.set_xticks(sorted(summary["depth"].unique()))
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def efficiency(summary):
    fig = _line_figure(summary, "efficiency", "share of instructions run by the workload",
                       "Efficiency (Popek-Goldberg) vs depth")
    fig.axes[0].set_ylim(0, 1.05)
    return fig


def exits_by_level(exits_table, reason_order, top=9):
    """Stacked bars, one panel per workload: a bar per depth and level (the
    level whose code took the exits), stacked by exit reason (the `top`
    commonest in arch/ order, the rest as "other"); default mechanisms and
    costs (the first of each where the sweep has no default)."""
    e = exits_table
    if len(e) == 0:
        fig, ax = plt.subplots()
        ax.set_title("Hardware exits per level and reason (no exits)")
        return fig
    mechanism = "default" if "default" in set(e["mechanism"]) else sorted(e["mechanism"])[0]
    e = e[(e["mechanism"] == mechanism) & (e["cost_model"] == sorted(e["cost_model"].unique())[0]) &
          (e["engine"] == sorted(e["engine"].unique())[0])].copy()
    totals = e.groupby("reason")["exits"].sum()
    kept = sorted(totals.nlargest(top).index, key=lambda r: reason_order[r])
    e["segment"] = e["reason"].where(e["reason"].isin(kept), "other")
    segments = kept + (["other"] if (e["segment"] == "other").any() else [])
    colors = {seg: plt.get_cmap("tab10")(k % 10) for k, seg in enumerate(segments)}
    workloads = sorted(e["workload"].unique())
    ncols = min(3, len(workloads))
    nrows = -(-len(workloads) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(workloads):]:
        ax.set_visible(False)
    for ax, workload in zip(axes.flat, workloads):
        w = e[e["workload"] == workload]
        bars = sorted(set(zip(w["depth"], w["level"])))
        bottom = np.zeros(len(bars))
        for seg in segments:
            values = np.array([w[(w["depth"] == d) & (w["level"] == l) & (w["segment"] == seg)]["exits"].sum()
                               for d, l in bars], dtype=float)
            ax.bar([f"d{d}\nL{l}" for d, l in bars], values, bottom=bottom, color=colors[seg], label=seg)
            bottom += values
        ax.set_title(workload)
        ax.set_xlabel("depth, level that exited")
        ax.set_ylabel("hardware exits")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[seg]) for seg in segments]
    fig.legend(handles, segments, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="exit reason")
    fig.suptitle(f"Hardware exits per level and reason ({mechanism} mechanisms)")
    fig.tight_layout()
    return fig
