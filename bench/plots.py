"""The PNG plots of bench/run.py's results (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import asyncio_kv  # noqa: E402
import blocking_kv  # noqa: E402
import server_load  # noqa: E402
from common import median  # noqa: E402

COLOURS = {"ours": "tab:blue", "divan": "tab:blue", "official": "tab:orange",
           "memcached": "tab:green", "floor": "tab:gray"}


def _bars(ax, groups, series, values, ylabel, log=False):
    """Grouped bars: values[(series, group)] (None: no bar)."""
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [values.get((name, group)) or 0 for group in groups]
        ax.bar(xs, ys, width, label=name, color=COLOURS.get(name))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def draw(out, asyncio_results, blocking_results, server_results):
    """Writes the plots into out; returns their paths."""
    paths = []

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, loop in zip(axes, asyncio_kv.LOOPS):
        for kind in asyncio_kv.KINDS:
            ys = [median(asyncio_results.get((kind, loop, t))) for t in asyncio_kv.TASKS]
            ax.plot(asyncio_kv.TASKS, [y or 0 for y in ys], marker="o", label=kind,
                    color=COLOURS[kind])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(asyncio_kv.TASKS)
        ax.set_xticklabels([str(t) for t in asyncio_kv.TASKS])
        ax.set_title("asyncio client, %s" % loop)
        ax.set_xlabel("concurrent tasks")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("ops/s (log)")
    paths.append(_save(fig, out / "asyncio.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    groups = ["%s, %d thread%s" % (w, t, "s" if t > 1 else "") for w, t in blocking_kv.WORKLOADS]
    values = {(k, g): median(blocking_results.get((k, w, t)))
              for k in blocking_kv.KINDS for g, (w, t) in zip(groups, blocking_kv.WORKLOADS)}
    _bars(ax, groups, blocking_kv.KINDS, values, "ops/s (log)", log=True)
    ax.set_title("blocking client")
    paths.append(_save(fig, out / "blocking.png"))

    fig, axes = plt.subplots(2, 1, figsize=(10, 7))
    loads = server_results["loads"]
    groups = ["%d%% get\n%d in flight\n%d conn" % load for load in server_load.LOADS]
    for ax, index, label in ((axes[0], 0, "ops/s"), (axes[1], 1, "server CPU µs/op")):
        values = {}
        for kind in server_load.SERVERS:
            for group, load in zip(groups, server_load.LOADS):
                runs = loads.get((kind, "plain") + load)
                values[(kind, group)] = median([r[index] for r in runs]) if runs else None
        _bars(ax, groups, server_load.SERVERS, values, label)
    axes[0].set_title("divan-server and memcached under the same loader (divan load --memcached)")
    paths.append(_save(fig, out / "server.png"))

    fig, ax = plt.subplots(figsize=(5, 4))
    memory = server_results["memory"]
    kinds = list(server_load.SERVERS)
    ax.bar(kinds, [memory[k]["full"] / 2**20 for k in kinds],
           color=[COLOURS[k] for k in kinds])
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("holding 1M documents of 100 bytes")
    ax.grid(axis="y", alpha=0.3)
    paths.append(_save(fig, out / "memory.png"))
    return paths


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
