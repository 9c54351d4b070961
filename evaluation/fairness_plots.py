"""The fairness report's figures (evaluation/fairness.py): aggregate plots only, no face is
ever drawn. utkface_scores.png, sets_scores.png, edc_by_set.png, residuals.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.fairness_report import ATTR_TITLES, _pct
from facedata.plot import pyplot


def _boxes(ax, groups: list[str], values: dict[str, list[np.ndarray]], ylabel: str) -> None:
    models = list(values)
    w = 0.8 / len(models)
    for i, m in enumerate(models):
        data = [v[np.isfinite(v)] if len(v) else np.array([np.nan]) for v in values[m]]
        pos = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * w
        ax.boxplot(
            data,
            positions=pos,
            widths=w * 0.9,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": f"C{i}", "alpha": 0.5},
            medianprops={"color": "k"},
        )
        if len(models) > 1:
            ax.plot([], [], color=f"C{i}", lw=6, alpha=0.5, label=m)
    ax.set_xticks(np.arange(len(groups)), groups, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if len(models) > 1:
        ax.legend(fontsize=7)


def _utkface_plot(res: dict, out: Path, plt) -> None:
    u = res["utkface"]
    p = u["plot"]
    th = res["thresholds"].get("tinyfqnet", {})
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), gridspec_kw={"width_ratios": [5, 5, 2]})
    for ax, attr in zip(axes, ("race", "age", "gender")):
        col = np.array(p["attrs"][attr])
        groups = [g for g in p["order"][attr] if (col == g).any()]
        vals = {m: [np.array(s)[col == g] for g in groups] for m, s in p["scores"].items()}
        rows = u["groups"][attr]
        ticks = [
            f"{g}\nn={rows[g]['crops']}\nno face {_pct(rows[g]['no_face'] / rows[g]['crops'])}"
            for g in groups
        ]
        _boxes(ax, ticks, vals, "score (--detect)" if attr == "race" else "")
        for i, (k, t) in enumerate(th.items()):
            ax.axhline(t, ls="--" if i == 0 else ":", lw=1, color="k", label=k)
        ax.set_title(f"UTKFace by {ATTR_TITLES[attr]}", fontsize=9)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "utkface_scores.png", dpi=110)
    plt.close(fig)


def _sets_plots(res: dict, out: Path, plt) -> None:
    s = res["sets"]
    p = s["plot"]
    groups = list(s["groups"])
    col = np.array(p["all_sets"])
    lab = np.array(p["all_labels"], float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4))
    ticks = [f"{g}\n{s['groups'][g]['people']} p." for g in groups]
    vals = {m: [np.array(v, float)[col == g] for g in groups] for m, v in p["all_scores"].items()}
    _boxes(a, ticks, vals, "score")
    a.set_title("Score by set", fontsize=9)
    _boxes(b, ticks, {"label": [lab[col == g] for g in groups]}, "verifier's label (cosine)")
    b.set_title("Verifier's label by set (dlib ResNet, leave-one-out centre)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "sets_scores.png", dpi=110)
    plt.close(fig)

    models = list(res["models"])
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models) + 1.5, 4.2), squeeze=False)
    for ax, m in zip(axes[0], models):
        for i, g in enumerate(groups):
            e = s["groups"][g]["models"][m]["edc"]
            if e:
                c = e["curve"]
                lab = f"{g} ({e['pAUC@20%']:.4f})"
                ax.step(c["discard"], c["fnmr"], where="post", color=f"C{i}", label=lab)
        ax.set_xlim(0, 0.4)
        ax.set_xlabel("share of the set's genuine pairs discarded (lowest score first)")
        ax.set_ylabel(f"FNMR at FMR {res['config']['fmr']:g} (all sets' impostors)")
        ax.set_title(f"Error versus discard by set: {m}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(
        fontsize=7,
        title="set (pAUC@20%)",
        title_fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
    )
    fig.tight_layout()
    fig.savefig(out / "edc_by_set.png", dpi=110)
    plt.close(fig)

    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.5))
    pl, ps, pset = np.array(p["label"]), np.array(p["scores"]["tinyfqnet"]), np.array(p["set"])
    for i, g in enumerate(groups):
        k = pset == g
        a.scatter(pl[k], ps[k], s=4, alpha=0.4, color=f"C{i}", label=g)
    cur = s["residual"]["tinyfqnet"]["curve"]
    a.plot(cur["label"], cur["score"], color="k", lw=2, label="f: isotonic fit, all sets")
    a.set_xlabel("verifier's label")
    a.set_ylabel("score (tinyfqnet)")
    a.set_title("Score against the verifier's label", fontsize=9)
    a.legend(fontsize=7, markerscale=3)
    a.grid(alpha=0.3)
    w = 0.8 / (2 * len(models))
    for j, m in enumerate(models):
        rt = s["residual"][m]["groups"]
        for i, g in enumerate(groups):
            if g not in rt:
                continue
            r = rt[g]
            for k, (v, ci, mark) in enumerate(
                ((r["residual"], r["ci"], "o"), (r["reverse_residual"], r["reverse_ci"], "s"))
            ):
                x = i + (2 * j + k - (2 * len(models) - 1) / 2) * w
                both = r["flagged"] and r["reverse_agrees"]
                colour = ("r" if both else "darkorange") if r["flagged"] else f"C{j}"
                name = ("score − f(label)", "label − h(score)")[k]
                b.errorbar(
                    x,
                    v,
                    yerr=[[v - ci[0]], [ci[1] - v]],
                    fmt=mark,
                    mfc=colour if k == 0 else "white",
                    color=colour,
                    capsize=3,
                    label=(f"{m}: " if len(models) > 1 else "") + name if i == 0 else None,
                )
    b.axhline(0, color="k", lw=1)
    b.set_xticks(np.arange(len(groups)), groups, fontsize=8)
    b.set_ylabel("mean residual, 95% CI (people resampled)")
    b.set_title(
        "Residual by set: red = flagged by both fits, orange = forward fit only", fontsize=9
    )
    b.grid(axis="y", alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "residuals.png", dpi=110)
    plt.close(fig)


def plots(res: dict, out: Path) -> None:
    plt = pyplot()
    if "plot" in res.get("utkface", {}):
        _utkface_plot(res, out, plt)
    if res["sets"].get("groups"):
        _sets_plots(res, out, plt)
