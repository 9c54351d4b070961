"""Step 5: how well the native score predicts the recognition label on held-out identities.

LFW View-2 folds 6-10 identities never enter training. For their labelled images (originals
and degraded copies) this scores the image with the native scorer (the model embedded in the
package, or ``--model``) through the same landmarks and reports the Spearman and Pearson
correlation with the labels' own label (their labeller is named in the provenance.json beside
them; not necessarily the one the scored model was trained on), overall and for originals /
degraded copies, as JSON and a scatter plot.

    python -m training.evaluate --out docs/heldout
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training.config import DEFAULT_DATA, REPO, command_line

LABELS = REPO / "training" / "labels" / "labels.csv"


def run(
    labels: Path, data: Path, out: Path, model: str | None = None, limit: int | None = None
) -> dict:
    from scipy.stats import pearsonr, spearmanr
    from tqdm import tqdm

    from tinyfq_native import Scorer
    from training.sample import labels_provenance, read_labels
    from training.train import labelled_image

    rows = [r for r in read_labels(labels) if r["split"] == "heldout"][:limit]
    if not rows:
        raise SystemExit(f"no held-out rows in {labels}")
    scorer = Scorer(model)
    q = np.empty(len(rows), np.float32)
    for i, r in enumerate(tqdm(rows, desc="held-out", unit="img", file=sys.stderr)):
        q[i] = scorer.score(*labelled_image(str(data), r))
    y = np.array([r["label"] for r in rows])
    copy = np.array([r["copy"] for r in rows])

    def corr(mask):
        return {
            "n": int(mask.sum()),
            "spearman": float(spearmanr(q[mask], y[mask])[0]),
            "pearson": float(pearsonr(q[mask], y[mask])[0]),
        }

    labeller = labels_provenance(labels).get("label_model")
    res = {
        "model": model or "embedded default",
        "model_version": scorer.info.get("version"),
        "label_model": labeller or "unknown (no provenance.json beside the labels)",
        "model_label_model": scorer.info.get("label_model"),
        "identities": len({r["identity"] for r in rows}),
        "all": corr(np.ones(len(rows), bool)),
        "originals": corr(copy == 0),
        "degraded": corr(copy > 0),
        "command": command_line(
            "training.evaluate",
            labels=None if Path(labels) == LABELS else labels,
            data=None if Path(data) == DEFAULT_DATA else data,
            out=out,
            model=model,
            limit=limit,
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "heldout.json").write_text(json.dumps(res, indent=2) + "\n")

    from facedata.plot import pyplot

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.scatter(y[copy == 0], q[copy == 0], s=4, alpha=0.4, label="originals")
    ax.scatter(y[copy > 0], q[copy > 0], s=4, alpha=0.4, label="degraded copies")
    name = str(res["label_model"]).split(" (")[0]
    ax.set_xlabel(f"label ({name}): cos(embedding, identity centre)")
    ax.set_ylabel("tinyFQnet score (native)")
    ax.set_title(f"held-out LFW identities: Spearman {res['all']['spearman']:.3f}")
    ax.legend(markerscale=4)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "heldout.png", dpi=110)
    plt.close(fig)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "heldout")
    p.add_argument("--model", default=None, help="exported model; default: the embedded one")
    p.add_argument("--limit", type=int, default=None)
    a = p.parse_args(argv)
    print(json.dumps(run(a.labels, a.data, a.out, a.model, a.limit), indent=2))


if __name__ == "__main__":
    main()
