"""PNG charts of a drop (matplotlib, Agg backend): kept small so they can be committed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: Figure size in inches and resolution: ~800x450 px, a few tens of KB each.
SIZE = (8, 4.5)
DPI = 80


def _markers(ax, results: dict) -> None:
    marks = results.get("marks", {})
    for key, label, color in (("on_sale_s", "on-sale", "green"), ("sold_out_s", "sold out", "red")):
        if marks.get(key) is not None:
            ax.axvline(marks[key], color=color, linestyle="--", linewidth=1, label=label)
    for t, kind, _ in (results.get("chaos") or {}).get("events", []):
        if kind in ("web_restart", "redis_killed"):
            ax.axvline(t, color="purple", linestyle=":", linewidth=1.2)
            ax.annotate(kind.replace("_", " "), (t, ax.get_ylim()[1] * 0.92), fontsize=7, color="purple", rotation=90, ha="right")


def timeline(results: dict, path: Path) -> Path:
    """Queue length and admitted (top); holds and sold against capacity (bottom), over time."""
    series = results["timeline"]
    t = series["t"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=SIZE, dpi=DPI, sharex=True)
    for key, label in (("fans_waiting", "fans waiting (simulator)"), ("queue_waiting", "queue waiting (server)"),
                       ("admitted_up_to", "admitted up to position")):
        if any(v is not None for v in series.get(key, [])):
            top.plot(t, series[key], label=label, linewidth=1.2)
    top.set_ylabel("fans")
    top.legend(fontsize=7, loc="upper right")
    top.grid(alpha=0.3)
    for key, label in (("held", "held"), ("sold", "sold")):
        if any(v is not None for v in series.get(key, [])):
            bottom.plot(t, series[key], label=label, linewidth=1.2)
    capacity = results.get("event", {}).get("capacity")
    if capacity:
        bottom.axhline(capacity, color="grey", linewidth=0.8, label="capacity")
    bottom.set_ylabel("tickets")
    bottom.set_xlabel("seconds since start")
    bottom.grid(alpha=0.3)
    _markers(top, results)
    _markers(bottom, results)
    bottom.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Drop timeline: {results['config']['fans']:,} fans", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency(results: dict, path: Path) -> Path:
    """p50/p95/p99 per endpoint (log scale)."""
    table = results["latency"]
    names = list(table)
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    width = 0.27
    for i, (q, color) in enumerate((("p50", "#4c72b0"), ("p95", "#dd8452"), ("p99", "#c44e52"))):
        xs = [j + (i - 1) * width for j in range(len(names))]
        ax.bar(xs, [max(table[n][q], 0.01) for n in names], width, label=q, color=color)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms, log)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("Latency per endpoint (whole drop)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def throughput(results: dict, path: Path) -> Path:
    """Requests per second by endpoint, over time."""
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    for name, counts in results["throughput_series"].items():
        if any(counts):
            ax.plot(range(len(counts)), counts, label=name, linewidth=1)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("requests/s")
    ax.grid(alpha=0.3)
    _markers(ax, results)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("Throughput by endpoint", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
