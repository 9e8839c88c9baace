"""The tables of a sweep: per workload x depth (x mechanism, cost model,
engine where the sweep varies them) the metrics of analysis/metrics.py, as
Markdown and as LaTeX (booktabs)."""
import math

COLUMNS = [
    ("logical_exits", "logical exits", "int"),
    ("hw_exits", "hardware exits", "int"),
    ("multiplication", "multiplication", "x"),
    ("cycles_per_exit", "cycles/exit", "int"),
    ("overhead", "overhead", "pct"),
    ("efficiency", "efficiency", "pct"),
]


def _key_columns(summary):
    keys = [("workload", "workload"), ("depth", "depth")]
    if summary["mechanism"].nunique() > 1:
        keys.append(("mechanism", "mechanism"))
    if summary["cost_model"].nunique() > 1:
        keys.append(("cost_model", "cost model"))
    if summary["engine"].nunique() > 1:
        keys.append(("engine", "engine"))
    return keys


def _fmt(value, kind):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "int":
        return f"{round(value):,}"
    if kind == "x":
        return f"{value:.2f}×"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    return str(value)


def rows(summary):
    """(header, rows of strings), in the summary's order."""
    keys = _key_columns(summary)
    header = [title for _, title in keys] + [title for _, title, _ in COLUMNS]
    out = []
    for _, r in summary.iterrows():
        cells = [str(r[c]) if c != "cost_model" else (r[c] or "default") for c, _ in keys]
        cells += [_fmt(r[c], kind) for c, _, kind in COLUMNS]
        out.append(cells)
    return header, out


def markdown(summary):
    header, body = rows(summary)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if k < 2 else "---:" for k in
                                                             range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines) + "\n"


def _tex(s):
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("×", r"$\times$"), ("–", "--")):
        s = s.replace(a, b)
    return s


def latex(summary, caption="Exits and overhead per workload and depth", label="tab:nestbed"):
    header, body = rows(summary)
    n_keys = len(header) - len(COLUMNS)
    spec = "l" * n_keys + "r" * len(COLUMNS)
    out = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
    previous = None
    for r in body:
        if previous is not None and r[0] != previous:
            out.append(r"\addlinespace")
        previous = r[0]
        out.append(" & ".join(_tex(c) for c in r) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}}}", rf"\label{{{label}}}",
            r"\end{table}"]
    return "\n".join(out) + "\n"
