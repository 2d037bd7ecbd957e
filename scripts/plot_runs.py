#!/usr/bin/env python
"""Success vs environment steps for several llm4teach run folders on one PNG (one panel, or one per task).

Each run folder has ``episodes.rank*.csv`` (written by the llm4teach trainer,
habitat_llm4teach/distill/episodes.py). Runs are grouped by label: give
``LABEL=FOLDER`` pairs, and folders with the same label (e.g. several seeds)
are drawn as their mean with a min-max band; a plain FOLDER is its own label.
A horizontal line can mark a reference success rate (e.g. the teacher's).

    python scripts/plot_runs.py --out curves.png \\
        llm4teach=data/runs/a_seed1 llm4teach=data/runs/a_seed2 ppo=data/runs/b_seed1 \\
        --hline teacher=0.95
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import defaultdict
from typing import Any, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from habitat_llm4teach.distill.episodes import load_episodes  # noqa: E402


def success_curve(run_dir: str, grid: np.ndarray, window: int) -> np.ndarray:
    """Moving success over the last ``window`` episodes, sampled at the steps of ``grid`` (NaN before the first episode)."""
    episodes = load_episodes(run_dir)
    if len(episodes.step) == 0:
        return np.full(len(grid), np.nan)
    moving = episodes.moving_success(window)
    index = np.searchsorted(episodes.step, grid, side="right") - 1
    return np.where(index >= 0, moving[np.clip(index, 0, None)], np.nan)


def draw_runs(
    ax: Any,
    groups: dict[str, list[str]],
    window: int = 100,
    hlines: Optional[dict[str, float]] = None,
    title: str = "",
    points: int = 200,
) -> None:
    """Draw each group's mean moving success (band: min-max over its runs) against env steps on ``ax``."""
    last_step = max((int(steps[-1]) for dirs in groups.values() for d in dirs if len(steps := load_episodes(d).step)), default=0)
    if last_step == 0:
        raise ValueError(f"no finished episodes in any of {[d for dirs in groups.values() for d in dirs]}: nothing to plot")
    grid = np.linspace(0, last_step, points)
    for label, dirs in groups.items():
        curves = np.stack([success_curve(d, grid, window) for d in dirs])  # [runs, points]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any run's first episode
            mean = np.nanmean(curves, axis=0)
            low, high = np.nanmin(curves, axis=0), np.nanmax(curves, axis=0)
        line = ax.plot(grid, mean, label=f"{label} (n={len(dirs)})")[0]
        if len(dirs) > 1:
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
    for label, value in (hlines or {}).items():
        ax.axhline(value, linestyle="--", color="grey")
        # x in axes coordinates: the label sits at the left edge, below the line when it is near the top.
        ax.text(0.01, value, f" {label} {value:.2f}", transform=ax.get_yaxis_transform(), color="grey",
                va="top" if value > 0.9 else "bottom")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"success (last {window} episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title)


def plot_runs(
    groups: dict[str, list[str]],
    out: str,
    window: int = 100,
    hlines: Optional[dict[str, float]] = None,
    title: str = "",
    points: int = 200,
) -> None:
    """One panel of ``draw_runs`` into the PNG ``out``."""
    plot_panels([(groups, hlines, title)], out, window, points)


def plot_panels(
    panels: Sequence[tuple[dict[str, list[str]], Optional[dict[str, float]], str]],
    out: str,
    window: int = 100,
    points: int = 200,
) -> None:
    """Several ``(groups, hlines, title)`` panels side by side (two per row) in the PNG ``out``."""
    if not panels:
        raise ValueError("no panels to plot")
    columns = min(2, len(panels))
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(7 * columns, 4.2 * rows), squeeze=False)
    try:
        for ax, (groups, hlines, title) in zip(axes.flat, panels):
            draw_runs(ax, groups, window, hlines, title, points)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        fig.savefig(out, dpi=120)
    finally:
        plt.close(fig)


def parse_groups(specs: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for spec in specs:
        label, _, folder = spec.rpartition("=")
        groups[label or folder].append(folder)
    return dict(groups)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run folders, optionally LABEL=FOLDER")
    parser.add_argument("--out", default="success_vs_steps.png")
    parser.add_argument("--window", type=int, default=100, help="episodes in the moving success window")
    parser.add_argument("--hline", action="append", default=[], help="LABEL=VALUE reference line, e.g. teacher=0.95")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    hlines = {}
    for spec in args.hline:
        label, _, value = spec.partition("=")
        try:
            hlines[label] = float(value)
        except ValueError:
            parser.error(f"--hline wants LABEL=VALUE, got '{spec}'")
    try:
        plot_runs(parse_groups(args.runs), args.out, args.window, hlines, args.title)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
