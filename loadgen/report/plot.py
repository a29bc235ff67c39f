"""The run over time as a PNG: each scenario's error rate and step p99, stage boundaries marked.

A pure function of the results document (its ``timeline``, ``scenarios`` and ``verdicts``), so a
plot can be drawn again from any results file (``wsrace plot RESULTS``). One panel per scenario of
``doc["scenarios"]``, in name order: the error rate of each sample (left axis, %, red) and the p99
of each of its steps (right axis, ms, log scale, one line per step), the scenario's error-rate
limit and p99 limits (from its verdicts) dotted; a vertical line at each stage boundary, the
stage's name above the top panel.

matplotlib is imported here only, inside the functions, with its non-interactive Agg canvas and no
pyplot (no global figure state, no display): it takes a second or more to import, so neither the
Locust workers nor a run that writes no plot ever load it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from loadgen.judge.atomic import atomic_write_bytes

__all__ = ["PANEL_HEIGHT_IN", "WIDTH_IN", "figure", "plot_path", "render_png", "write_png"]

WIDTH_IN: Final = 12.0
PANEL_HEIGHT_IN: Final = 2.4
DPI: Final = 100
ERROR_COLOR: Final = "#c62828"
STEP_COLORS: Final = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")
"""The steps' p99 lines: matplotlib's default colours without its red, which is the error rate's."""
STAGE_COLOR: Final = "#777777"


def plot_path(results: str | Path) -> Path:
    """Where the plot of ``results`` goes: beside it, ``.png`` for its suffix
    (``wsrace-results.json`` -> ``wsrace-results.png``)."""
    path = Path(results)
    return path.with_suffix(".png") if path.suffix else path.with_name(path.name + ".png")


def _limits(verdicts: Sequence[Mapping[str, Any]], scenario: str) -> tuple[float | None, dict[str, float]]:
    """The scenario's error-rate limit and its p99 limit per step, from its verdicts."""
    rate: float | None = None
    p99: dict[str, float] = {}
    for verdict in verdicts:
        if verdict.get("scenario") != scenario or verdict.get("limit") is None:
            continue
        metric = str(verdict.get("metric", ""))
        if metric == "error_rate":
            rate = float(verdict["limit"])
        elif metric.startswith("latency.") and metric.endswith(".p99"):
            p99[metric.removeprefix("latency.").removesuffix(".p99")] = float(verdict["limit"])
    return rate, p99


def _status(verdicts: Sequence[Mapping[str, Any]], scenario: str) -> str:
    mine = [v for v in verdicts if v.get("category") == "scenario" and v.get("check") == scenario]
    if not mine:
        return "not judged"
    return "PASS" if all(v.get("passed") for v in mine) else "FAIL"


def _series(samples: Sequence[Mapping[str, Any]], scenario: str) -> tuple[list[float], list[float],
                                                                          dict[str, list[float]]]:
    """Sample midpoints, error rate (%) and p99 per step (ms); NaN where a sample has none."""
    times: list[float] = []
    rates: list[float] = []
    p99: dict[str, list[float]] = {}
    for index, sample in enumerate(samples):
        times.append((float(sample["start_s"]) + float(sample["end_s"])) / 2)
        entry = (sample.get("scenarios") or {}).get(scenario) or {}
        rate = entry.get("error_rate")
        rates.append(math.nan if rate is None else 100.0 * float(rate))
        for step, stats in (entry.get("steps") or {}).items():
            values = p99.setdefault(step, [math.nan] * index)
            value = stats.get("p99")
            values.append(math.nan if value is None else max(float(value), 0.1))  # log axis: no 0
        for values in p99.values():
            values.extend([math.nan] * (index + 1 - len(values)))
    return times, rates, p99


def figure(doc: Mapping[str, Any]) -> Any:
    """The plot of ``doc`` as a matplotlib ``Figure`` (Agg canvas), one axes per scenario."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scenarios = sorted(doc.get("scenarios") or {})
    timeline = doc.get("timeline") or {}
    samples = timeline.get("samples") or []
    stages = timeline.get("stages") or []
    verdicts = doc.get("verdicts") or []
    rows = max(len(scenarios), 1)
    fig = Figure(figsize=(WIDTH_IN, PANEL_HEIGHT_IN * rows + 0.9), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    passed = "PASS" if doc.get("passed") else "FAIL"
    fig.suptitle(f"wsrace {passed}: error rate and p99 over time", fontsize=11)
    if not scenarios:
        axes[0].text(0.5, 0.5, "no scenario in this results file", ha="center", va="center",
                     transform=axes[0].transAxes)
    for ax, name in zip(axes, scenarios, strict=False):
        _panel(ax, name, samples, verdicts)
        _stages(ax, stages)
    axes[-1].set_xlabel("seconds since the load started")
    axes[-1].set_xlim(left=0)
    return fig


def _stages(ax: Any, stages: Sequence[Mapping[str, Any]]) -> None:
    """A dashed line at each stage boundary, each stage's name at the top of its span."""
    for stage in stages:
        ax.axvline(float(stage["start_s"]), color=STAGE_COLOR, linestyle="--", linewidth=0.8)
    if stages:
        ax.axvline(float(stages[-1]["end_s"]), color=STAGE_COLOR, linestyle="--", linewidth=0.8)
    for stage in stages:
        middle = (float(stage["start_s"]) + float(stage["end_s"])) / 2
        ax.text(middle, 0.97, str(stage["name"]), transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=8, color="#333333", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})


def _panel(ax: Any, name: str, samples: Sequence[Mapping[str, Any]], verdicts: Sequence[Mapping[str, Any]]) -> None:
    rate_limit, p99_limits = _limits(verdicts, name)
    ax.set_title(f"{name}: {_status(verdicts, name)}", loc="left", fontsize=10)
    ax.set_ylabel("error rate %", color=ERROR_COLOR)
    ax.tick_params(axis="y", colors=ERROR_COLOR)
    ax.set_ylim(bottom=0, top=5)  # 0-5 % unless an error rate goes higher
    times, rates, p99 = _series(samples, name)
    if not any(math.isfinite(v) for v in rates) and not p99:
        ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes, color="#777777")
        return
    ax.plot(times, rates, color=ERROR_COLOR, marker="o", markersize=3, linewidth=1.5, label="error rate", zorder=3)
    finite = [v for v in rates if math.isfinite(v)]
    ax.set_ylim(bottom=0, top=max(5.0, *(finite or [0.0]), 100 * (rate_limit or 0.0)) * 1.1)
    handles = ax.get_lines()
    if rate_limit is not None:
        handles.append(ax.axhline(100 * rate_limit, color=ERROR_COLOR, linestyle=":", linewidth=1,
                                  label=f"error rate limit {100 * rate_limit:g}%"))
    right = ax.twinx()
    right.set_ylabel("p99 ms")
    right.set_yscale("log")
    for index, (step, values) in enumerate(sorted(p99.items())):
        color = STEP_COLORS[index % len(STEP_COLORS)]
        limit = p99_limits.get(step)
        label = f"{step} p99" + ("" if limit is None else f" (limit {limit:g} ms, dotted)")
        handles.extend(right.plot(times, values, color=color, marker=".", markersize=4, linewidth=1, label=label))
        if limit is not None:
            right.axhline(limit, color=color, linestyle=":", linewidth=1)
    # The twin axes are drawn over the first: the error rate is put back on top.
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    right.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=7, framealpha=0.8)


def render_png(doc: Mapping[str, Any]) -> bytes:
    """The plot of ``doc`` as PNG bytes."""
    buffer = io.BytesIO()
    figure(doc).savefig(buffer, format="png")
    return buffer.getvalue()


def write_png(doc: Mapping[str, Any], path: str | Path) -> bytes:
    """Write the plot of ``doc`` to ``path`` atomically; return its bytes (for the HTML report)."""
    data = render_png(doc)
    atomic_write_bytes(path, data)
    return data
