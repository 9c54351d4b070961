"""The evaluation's report: results.md tables and the PNG figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.protocols import PERSON_PHOTOS
from facedata.plot import palette, pyplot

# learned models get a bold line in the figures
LEARNED = (
    "tinyfqnet",
    "lightqnet_x0.25",
    "lightqnet_x0.5",
    "lightqnet_x1.0",
    "sdd_fiqa",
    "qualityface",
)


def _edc_axes(ax, r: dict, title: str) -> None:
    colors = palette(len(r["methods"]))
    for c, (m, v) in zip(colors, r["methods"].items()):
        ax.step(
            v["curve"]["discard"],
            v["curve"]["fnmr"],
            where="post",
            label=f"{m} ({v['pAUC@20%']:.4f})",
            lw=2.2 if m == "tinyfqnet" else 1.4 if m in LEARNED else 0.8,
            color=c,
        )
    ax.set_xlim(0, 0.5)
    ax.set_xlabel("fraction of genuine pairs discarded")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, title="method (pAUC@20%)", title_fontsize=6)


def plots(results: dict, out: Path) -> None:
    if "crops" in results:
        from evaluation.crops import plot

        plot(results["crops"], out / "aligned_crops.png", LEARNED)
    for key, _, figure in _SECTIONS:  # protocols 1-3: a figure for each the run made
        if results.get(key):
            figure(pyplot(), results, out)


def _templates_plot(plt, results: dict, out: Path) -> None:
    methods = results["methods"]
    summ = results["templates"]["summary"]
    metrics = list(next(iter(summ.values())))
    fig, ax = plt.subplots(figsize=(12, 4))
    w = 0.8 / len(methods)
    colors = palette(len(methods))
    for i, m in enumerate(methods):
        ax.bar(
            np.arange(len(metrics)) + i * w,
            [summ[m][k]["mean"] for k in metrics],
            w,
            yerr=[summ[m][k]["std"] for k in metrics],
            label=m,
            capsize=2,
            color=colors[i],
        )
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - w / 2, metrics)
    ax.set_ylim(0, 1)
    ax.set_title("Protocol 1: degraded LFW templates (folds 6-10), verified by dlib ResNet")
    ax.legend(ncol=5, fontsize=7, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "templates_tar.png", dpi=110)
    plt.close(fig)


def _edc_plot(plt, results: dict, out: Path) -> None:
    panels = [
        (results["edc"][c], f"EDC, LFW pairs folds 6-10, {c}") for c in ("originals", "degraded")
    ]
    if "pins" in results.get("natural", {}):
        panels.append((results["natural"]["pins"]["edc"], "EDC, held-out Pins people, unmodified"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), sharey=True)
    for ax, (r, title) in zip(np.atleast_1d(axes), panels):
        _edc_axes(ax, r, title)
    np.atleast_1d(axes)[0].set_ylabel(f"FNMR at FMR={results['config']['edc_fmr']:g}")
    fig.tight_layout()
    fig.savefig(out / "edc.png", dpi=110)
    plt.close(fig)


def _natural_plot(plt, results: dict, out: Path) -> None:
    methods = results["methods"]
    nat = results["natural"]
    names = [m for m in methods if m != "oracle"]
    within = [s for s in nat if "spearman_within" in nat[s]]  # older results lack it
    fig, axes = plt.subplots(1 + bool(within), 1, figsize=(10, 3.8 * (1 + bool(within))))
    ax = axes[0] if within else axes
    w = 0.8 / len(nat)
    x = np.arange(len(names))
    for i, (source, r) in enumerate(nat.items()):
        ax.bar(
            x + i * w,
            [r["spearman"][m] for m in names],
            w,
            label=f"{source} ({r['photos']} photos)",
        )
        if "label_model_spearman" in r:
            ax.axhline(
                r["label_model_spearman"]["value"],
                ls="--",
                lw=1,
                color=f"C{i}",
                label=f"{source}: label model's own agreement (ceiling)",
            )
        if source in within:  # one person's photos against each other
            axes[1].bar(
                x + i * w,
                [r["spearman_within"][m] for m in names],
                w,
                color=f"C{i}",
                label=f"{source} ({r['within_identities']} people with >= {PERSON_PHOTOS} photos)",
            )
    ax.set_ylabel("Spearman with the verifier's label")
    ax.set_title("Protocol 3: unmodified held-out photos", fontsize=9)
    if within:
        axes[1].set_ylabel("mean Spearman within a person")
        axes[1].set_title("The same photos, each person's against each other", fontsize=9)
    for a in axes if within else [ax]:
        a.set_xticks(x + 0.4 - w / 2, names, rotation=30, ha="right", fontsize=8)
        a.grid(axis="y", alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "natural_spearman.png", dpi=110)
    plt.close(fig)


def markdown(results: dict) -> str:
    # protocols 1-3: a table for each the run made
    tables = ["\n".join(table(results)) for key, table, _ in _SECTIONS if results.get(key)]
    text = "\n\n".join(tables) + "\n" if tables else ""
    if "crops" in results:
        from evaluation.crops import markdown as crops_markdown

        text += ("\n" if text else "") + crops_markdown(results["crops"], LEARNED)
    return text


def _templates_md(results: dict) -> list[str]:
    methods = results["methods"]
    summ = results["templates"]["summary"]
    metrics = list(next(iter(summ.values())))
    lines = [
        "### Protocol 1: degraded templates, TAR at FAR (mean ± std over "
        f"{len(results['config']['seeds'])} seeds)",
        "",
        "| method | " + " | ".join(metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for m in methods:
        lines.append(
            f"| {m} | "
            + " | ".join(
                f"{100 * summ[m][k]['mean']:.2f} ± {100 * summ[m][k]['std']:.2f}" for k in metrics
            )
            + " |"
        )
    return lines


def _edc_md(results: dict) -> list[str]:
    methods = results["methods"]
    lines = [
        "### Protocol 2: EDC on LFW View-2 pairs (pAUC, lower is better)",
        "",
        "| method | originals pAUC@20% | originals pAUC@30% | degraded pAUC@20% | "
        "degraded pAUC@30% |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        if m == "oracle":
            continue
        o, d = (results["edc"][c]["methods"][m] for c in ("originals", "degraded"))
        lines.append(
            f"| {m} | {o['pAUC@20%']:.4f} | {o['pAUC@30%']:.4f} | "
            f"{d['pAUC@20%']:.4f} | {d['pAUC@30%']:.4f} |"
        )
    return lines


def _natural_md(results: dict) -> list[str]:
    methods = results["methods"]
    nat = results["natural"]
    sources = list(nat)
    within = [s for s in sources if "spearman_within" in nat[s]]  # older results lack it
    head = " | ".join(f"Spearman, {s} ({nat[s]['photos']} photos)" for s in sources)
    head += "".join(f" | within person, {s} ({nat[s]['within_identities']} people)" for s in within)
    between = [s for s in sources if "spearman_between" in nat[s]]
    head += "".join(f" | between people, {s}" for s in between)
    pins = "pins" in nat
    lines = [
        "### Protocol 3: unmodified held-out photos (Spearman with the verifier's "
        "label, higher is better" + ("; Pins EDC pAUC, lower is better" if pins else "") + ")",
        "",
        f"| method | {head} |" + (" Pins pAUC@20% | Pins pAUC@30% |" if pins else ""),
        "|---" * (len(sources) + len(within) + len(between) + 1 + 2 * pins) + "|",
    ]
    for m in methods:
        if m == "oracle":
            continue
        cells = [f"{nat[s]['spearman'][m]:.3f}" for s in sources]
        cells += [f"{nat[s]['spearman_within'][m]:.3f}" for s in within]
        cells += [f"{nat[s]['spearman_between'][m]:.3f}" for s in between]
        row = f"| {m} | " + " | ".join(cells) + " |"
        if pins:
            e = nat["pins"]["edc"]["methods"][m]
            row += f" {e['pAUC@20%']:.4f} | {e['pAUC@30%']:.4f} |"
        lines.append(row)
    ceil = [
        _ceiling(s, nat[s]["label_model_spearman"])
        for s in sources
        if "label_model_spearman" in nat[s]
    ]
    if ceil:
        lines += [
            "",
            "The label model's own Spearman with the verifier's label on the same "
            "photos (the ceiling for a score trained on its labels): " + ", ".join(ceil) + ".",
        ]
    lines += _against_label_model(nat, methods)
    if within:
        lines += [
            "",
            f"Within person: the mean over people with at least {PERSON_PHOTOS} labelled photos "
            "of Spearman between one person's photos (how well the score picks a person's best "
            "photo)."
            + (
                " Between people: the Spearman between those people's mean scores and mean "
                "labels (how the score ranks people against each other)."
                if between
                else ""
            ),
        ]
    return lines


def _ceiling(source: str, lm: dict) -> str:
    """``lfw: 0.742 (3802 photos; 0.585 between people)``: the label model's own agreement with
    the verifier (older results lack the between-people part)."""
    between = f"; {lm['value_between']:.3f} between people" if "value_between" in lm else ""
    return f"{source}: {lm['value']:.3f} ({lm['photos']} photos{between})"


def _against_label_model(nat: dict, methods: list[str]) -> list[str]:
    """Each method's Spearman with the training label model's own label on protocol 3's
    photos, beside the verifier's: where the two disagree, a score has learned what the label
    model sees and the verifier does not."""
    srcs = [s for s in nat if "methods" in nat[s].get("label_model_spearman", {})]
    if not srcs:
        return []
    head = " | ".join(f"{s}: all | {s}: between people" for s in srcs)
    lines = [
        "",
        "Against the label model's own label instead of the verifier's (the same photos and "
        "people):",
        "",
        f"| method | {head} |",
        "|---" * (2 * len(srcs) + 1) + "|",
    ]
    for m in methods:
        if m == "oracle":
            continue
        cells = []
        for s in srcs:
            lm = nat[s]["label_model_spearman"]
            cells += [f"{lm['methods'][m]:.3f}", f"{lm['between'][m]:.3f}"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


# protocols 1-3: (results key, table lines, figure), each made when the run made that protocol
_SECTIONS = (
    ("templates", _templates_md, _templates_plot),
    ("edc", _edc_md, _edc_plot),
    ("natural", _natural_md, _natural_plot),
)
