"""Protocol 6's report (evaluation/video_real.py): the Markdown tables and the figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.video_sequences import LIVEPORTRAIT, NUAA

LABELS = {
    "tinyfqnet": "tinyFQnet",
    "lightqnet_x0.25": "LightQNet ×0.25",
    "lightqnet_x1.0": "LightQNet ×1.0",
    "sdd_fiqa": "SDD-FIQA",
    "first": "first frame",
    "middle": "middle frame",
    "random": "random frame",
}
SET_TITLES = {"nuaa": "NUAA", "liveportrait": "LivePortrait", "pooled": "both, pooled"}


def markdown(results: dict) -> str:
    res = results["results"]
    fars = [f"{f:g}" for f in results["config"]["fars"]]
    lines = [
        "## Protocol 6: real video sessions (NUAA webcam sequences, LivePortrait clips), "
        "dlib ResNet",
        "",
        f"Quality model {results['quality_model']}; one frame kept per session from its main "
        f"track; cross-session pairs. NUAA: "
        f"{NUAA['repository']}@{NUAA['commit'][:10]} `{NUAA['folder']}`, one picture in "
        f"{results['config']['every_nuaa']}; LivePortrait: "
        f"{LIVEPORTRAIT['repository']}@{LIVEPORTRAIT['commit'][:10]} `{LIVEPORTRAIT['folder']}`"
        f" (MIT), one frame in {results['config']['every_clip']}, halves as sessions. "
        f"Random: mean ± std over {results['config']['random_draws']} draws. A NUAA sequence "
        "is one (person, glasses, pos, session) of the file names "
        "`ID_GLASSES_POS_SESSION_FRAME.jpg`; its genuine pairs are a person's sequences of "
        "different session numbers.",
        "",
        "| set | sessions (people) | genuine / impostor pairs | impostor pairs allowed above the "
        "threshold at FAR " + " / ".join(fars) + " |",
        "|---|---|---|---|",
    ]
    for s, r in res.items():
        lines.append(
            f"| {SET_TITLES.get(s, s)} | {r['sessions']} ({r['people']}) | "
            f"{r['genuine_pairs']} / {r['impostor_pairs']} | "
            + " / ".join(str(r["impostors_at_threshold"][f]) for f in fars)
            + " |"
        )
    sets = list(res)
    metrics_ = [f"TAR@FAR={f}" for f in fars]
    head = [
        f"{SET_TITLES.get(s, s)} {m.replace('TAR@FAR=', 'TAR@')}" for s in sets for m in metrics_
    ]
    lines += ["", "| method | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for m in res[sets[0]]["methods"]:
        cells = []
        for s in sets:
            for k in metrics_:
                v = res[s]["methods"][m][k]
                cells.append(
                    f"{v['mean']:.3f} ± {v['std']:.3f}" if m == "random" else f"{v['mean']:.3f}"
                )
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    head = [f"{SET_TITLES.get(s, s)} {k}" for s in sets for k in ("accuracy", "genuine cos")]
    lines += [
        "",
        "Balanced accuracy (at the best threshold) and the mean cosine of the genuine pairs "
        "(the same centre for every method):",
        "",
        "| method | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for m in res[sets[0]]["methods"]:
        cells = [
            f"{res[s]['methods'][m][k]['mean']:.3f}"
            for s in sets
            for k in ("accuracy", "genuine_cosine")
        ]
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    if results["sessions_without_face"]:
        lines += ["", f"Sessions without a face (left out): {results['sessions_without_face']}."]
    return "\n".join(lines) + "\n"


def plot(results: dict, out: Path) -> None:
    from facedata.plot import pyplot

    plt = pyplot()
    res = results["results"]
    fars = [f"{f:g}" for f in results["config"]["fars"]]
    sets = list(res)
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, s in zip(axes, sets):
        methods = list(res[s]["methods"])
        w = 0.8 / len(methods)
        for i, m in enumerate(methods):
            v = [res[s]["methods"][m][f"TAR@FAR={f}"] for f in fars]
            ax.bar(
                np.arange(len(fars)) + i * w,
                [x["mean"] for x in v],
                w,
                yerr=[x["std"] for x in v] if m == "random" else None,
                label=LABELS.get(m, m),
                capsize=2,
            )
        r = res[s]
        ax.set_xticks(np.arange(len(fars)) + 0.4 - w / 2, [f"TAR@FAR {f}" for f in fars])
        ax.set_title(
            f"{SET_TITLES.get(s, s)}: {r['genuine_pairs']} genuine, "
            f"{r['impostor_pairs']} impostor pairs",
            fontsize=8,
        )
        ax.set_ylim(0.5, 1.02)  # every bar is above 0.5: the axis starts there
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(
        "Protocol 6: the frame kept per real video session, verified by dlib (TAR, axis from 0.5)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out / "video_real_tar.png", dpi=110)
    plt.close(fig)
