"""The fairness report's page (evaluation/fairness.py): fairness.md, its tables, a reading
written from the numbers, and what the report cannot show. The figures:
evaluation/fairness_plots.py."""

from __future__ import annotations

ATTR_TITLES = {"race": "race", "age": "age group", "gender": "gender"}
#: Who each identity set shows, as far as its source says or its content makes plain: the
#: population a set stands in for (no per-person labels exist), or the condition it varies.
POPULATION = {
    "lfw": "news photos of public figures; mostly white, male adults",
    "casia5": "CASIA-FaceV5: Asian adults (as CASIA describes the set), controlled captures",
    "blackpink": "4 Korean women singers, young adults, styled stage and press photos",
    "idols13": "13 Korean singers (BTS, ITZY, ENHYPEN), young adults, styled photos",
    "kpop15": "15 Korean singers, young adults, styled photos",
    "bollywood": "5 Indian film actors, press photos",
    "asian": "Chinese, Korean and Japanese celebrities, web photos (labels partly uncleaned)",
    "yaleb": "Extended Yale B: 38 people under ~64 studio light directions (a lighting set, "
    "not a population)",
    "nuaa": "NUAA: 15 people on a webcam (a capture-condition set, not a population)",
}


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _ci(v: float, ci: list[float], digits: int = 3) -> str:
    return f"{v:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _threshold_note(res: dict) -> list[str]:
    th = res["thresholds"].get("tinyfqnet", {})
    if not th:
        return ["The default model carries no calibration table: no thresholds."]
    return [
        "Thresholds (the default model's calibration table, `tinyfq_native.calibration`): "
        + "; ".join(f"**{k}** = {v:.3f}" for k, v in th.items())
        + " (`report default`: the lowest score whose expected FNMR, dlib at FMR 1e-3, is at "
        "most that of the average held-out LFW pair — `tinyfq report`'s default line; "
        "`quality 70`: `--min-quality 70`)."
    ]


def _utk_source(u: dict) -> str:
    p = u.get("provenance", {})
    if "listed" not in p:
        return ""
    return (
        f" ({p['repo']}@{p['commit'][:8]}: {p['listed']:,} files, {p.get('duplicates', 0)} "
        f"byte-identical duplicates skipped, {p.get('unparsed', 0)} names without a race or "
        "gender field left out)"
    )


def verdict(r: dict) -> str:
    """A set's residual-test outcome in words: flagged (interval below 0) and confirmed by the
    reverse fit, flagged one way only, scored above its labels both ways, or no."""
    if r["flagged"]:
        return "**flagged, both fits**" if r["reverse_agrees"] else "flagged, forward fit only"
    if r["ci"][0] > 0 and r["reverse_ci"][1] < 0:
        return "above its labels, both fits"
    return "no"


def _utkface(u: dict, res: dict) -> list[str]:
    if "skipped" in u:
        return ["## 1. UTKFace", "", f"Not run: {u['skipped']}.", ""]
    th = list(res["thresholds"].get("tinyfqnet", {}))
    models = list(res["models"])
    lines = [
        "## 1. UTKFace: score distributions by race, age group and gender",
        "",
        f"{u['crops']} crops{_utk_source(u)}, scored as `tinyfq score --detect` scores them "
        "(the native detector's largest face, warped by its five landmarks): UTKFace's "
        "200×200 crops keep a wider margin than the ArcFace 112×112 template the crop path "
        "assumes. "
        f"No face found: {u['no_face']} crops ({_pct(u['no_face'] / u['crops'])}); "
        f"unreadable: {u['unreadable']}. The last column scores the same files as ArcFace "
        "crops (no `--detect`), which they are not: it shows what that mistake costs, and "
        "whether it costs some groups more. UTKFace has no identities, so there is no "
        "recognisability label here and no residual test: a lower median below is not by "
        "itself unfair (a baby's face, or a photo taken worse, can be less recognisable).",
        "",
    ]
    lines += _threshold_note(res) + [""]
    for attr, rows in u["groups"].items():
        head = "| " + ATTR_TITLES[attr] + " | crops | no face | median [95% CI] | IQR |"
        head += "".join(f" below {t} |" for t in th)
        head += "".join(f" median {m} |" for m in models[1:]) + " median as crops |"
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for g, r in rows.items():
            d = r["detect"]["tinyfqnet"]
            if d["n"] == 0:
                lines.append(f"| {g} | {r['crops']} | {r['no_face']} | – | – |")
                continue
            row = (
                f"| {g} | {r['crops']} | {r['no_face']} ({_pct(r['no_face'] / r['crops'])}) | "
                f"{_ci(d['median'], d['median_ci'])} | {d['q25']:.3f}–{d['q75']:.3f} |"
            )
            row += "".join(f" {_pct(d['below'][t])} |" for t in th)
            row += "".join(
                f" {r['detect'][m].get('median', float('nan')):.3f} |" for m in models[1:]
            )
            row += f" {r['crop'].get('median', float('nan')):.3f} |"
            lines.append(row)
        lines.append("")
    ages = list(next(iter(u["race_by_age"].values())))
    lines += [
        "Median score (default model, `--detect`) by race and age group (n in brackets): race "
        "groups differ in their age mix, so compare within a column.",
        "",
        "| race | " + " | ".join(ages) + " |",
        "|---|" + "---|" * len(ages),
    ]
    for race, row in u["race_by_age"].items():
        cells = [
            f"{c['median']:.3f} ({c['n']})" if c["median"] is not None else f"– ({c['n']})"
            for c in row.values()
        ]
        lines.append(f"| {race} | " + " | ".join(cells) + " |")
    lines += ["", "![UTKFace score distributions](utkface_scores.png)", ""]
    return lines


def _sets(s: dict, res: dict) -> list[str]:
    lines = ["## 2. Identity sets: recognisability, error-versus-discard, residual test", ""]
    if not s.get("groups"):
        return lines + ["Not run: no identity set was found.", ""]
    th = list(res["thresholds"].get("tinyfqnet", {}))
    fmr = res["config"]["fmr"]
    lines += [
        "Each set is one group: a proxy for the population it samples, **not** a per-person "
        "race, age or gender label (these photos carry none). Label: the verifier's "
        f"(*{res['verifier']}*) cosine of the photo to the normalised mean of the person's "
        "other photos. Score: tinyFQnet on the face the verifier's detection found (the native "
        "detector, as `--detect`). EDC: FNMR of the set's genuine pairs after discarding the "
        "lowest-scored share of them (pair quality = the lower score; "
        f"`evaluation.metrics.edc`), at one threshold for all sets: FMR {fmr:g} over all "
        f"{s['impostor_pairs']:,} impostor pairs of all sets (cosine {s['threshold']:.3f}). "
        "The set's FMR column is its own impostor pairs' rate at that threshold. Intervals: "
        f"95%, {res['config']['bootstrap']} bootstrap resamples of the set's people.",
        "",
    ]
    lines += ["| set | what it stands for | source |", "|---|---|---|"]
    for g, r in s["groups"].items():
        lines.append(f"| {g} | {POPULATION.get(g, '–')} | {r.get('source', '–')} |")
    lines.append("")
    head = (
        "| set | people | photos (no face) | median label | median score | IQR |"
        + "".join(f" below {t} |" for t in th)
        + " Spearman [95% CI] | FNMR 0% | 10% | 20% | 40% | pAUC@20% | set's FMR |"
    )
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for g, r in s["groups"].items():
        m = r["models"]["tinyfqnet"]
        sc, e = m["scores"], m["edc"]
        row = (
            f"| {g} | {r['people']} | {r['photos']} ({r['no_face']}) | {r['label_median']:.3f} "
            f"| {sc['median']:.3f} | {sc['q25']:.3f}–{sc['q75']:.3f} |"
        )
        row += "".join(f" {_pct(sc['below'][t])} |" for t in th)
        row += f" {_ci(m['spearman'], m['spearman_ci'], 2)} |"
        if e:
            row += "".join(
                f" {_pct(e['fnmr_at_discard'][k])} |" for k in ("0", "0.1", "0.2", "0.4")
            )
            row += f" {e['pAUC@20%']:.4f} |"
        else:
            row += " – | – | – | – | – |"
        row += f" {r['fmr']:.4f} |"
        lines.append(row)
    lines += [
        "",
        "![Scores and labels by set](sets_scores.png)",
        "",
        "![Error versus discard by set](edc_by_set.png)",
        "",
    ]
    lines += ["### Residual test", "", _residual_method(), ""]
    for model, rt in s["residual"].items():
        lines += [
            f"**{model}** ({rt['photos']} photos with a label):",
            "",
            "| set | people | photos | score − f(label) [95% CI] | "
            "label − h(score) [95% CI] | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for g, r in rt["groups"].items():
            lines.append(
                f"| {g} | {r['people']} | {r['photos']} | {_ci(r['residual'], r['ci'], 4)} | "
                f"{_ci(r['reverse_residual'], r['reverse_ci'], 4)} | {verdict(r)} |"
            )
        lines.append("")
    lines += ["![Residual test](residuals.png)", ""]
    if len(res["models"]) > 1:
        lines += _compared(s, res)
    return lines


def _residual_method() -> str:
    return (
        "One monotone (isotonic) curve score = f(label) is fitted on every set's photos "
        "together; a set's residual is the mean of score − f(label) over its photos (f held "
        "fixed in the bootstrap). A set is **flagged** when its whole 95% interval lies below "
        "0: its faces score lower than faces the verifier sees as equally recognisable. Both "
        "score and label are noisy, so each fit pulls a set towards its own mean: a set whose "
        "labels *and* scores are low on average is flagged by this fit alone, and would be "
        "even if the score treated it fairly. The reverse fit label = h(score) tells the two "
        "apart: a set really scored too low also has label − h(score) above 0 (its faces are "
        "more recognisable than their scores say). Verdict: *flagged, both fits* is the "
        "evidence the issue asks about; *flagged, forward fit only* is the pattern a set with "
        "low labels gives without any unfairness; *above its labels, both fits*: scored "
        "higher than its labels warrant."
    )


def _compared(s: dict, res: dict) -> list[str]:
    models = list(res["models"])
    lines = [
        "### Models compared",
        "",
        "| set | " + " | ".join(f"{m}: median / Spearman / pAUC@20%" for m in models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for g, r in s["groups"].items():
        cells = []
        for m in models:
            x = r["models"][m]
            pa = x["edc"]["pAUC@20%"] if x["edc"] else float("nan")
            cells.append(f"{x['scores']['median']:.3f} / {x['spearman']:.2f} / {pa:.4f}")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    return lines + [""]


def _utk_reading(u: dict) -> list[str]:
    out = []
    a = u["all"]["tinyfqnet"]
    below = ", ".join(f"{_pct(v)} below {k}" for k, v in a.get("below", {}).items())
    out.append(
        f"- UTKFace, all {u['crops']:,} crops: median score {a['median']:.3f}"
        + (f", {below}" if below else "")
        + f"; no face found in {u['no_face']} ({_pct(u['no_face'] / u['crops'])})."
    )
    for attr, rows in u["groups"].items():
        med = {g: r["detect"]["tinyfqnet"].get("median") for g, r in rows.items()}
        med = {g: v for g, v in med.items() if v is not None}
        lo, hi = min(med, key=med.get), max(med, key=med.get)
        out.append(
            f"- UTKFace by {ATTR_TITLES[attr]}: median from {med[lo]:.3f} ({lo}) to "
            f"{med[hi]:.3f} ({hi}), a gap of {med[hi] - med[lo]:.3f}"
            + _below_gap(rows, lo, hi)
            + "."
        )
    col = {r: c["20-39"]["median"] for r, c in u["race_by_age"].items() if c["20-39"]["n"] >= 50}
    if len(col) > 1:
        lo, hi = min(col, key=col.get), max(col, key=col.get)
        out.append(
            f"- Within one age group (20-39, the largest) the race medians run from "
            f"{col[lo]:.3f} ({lo}) to {col[hi]:.3f} ({hi}): the race gap is not only the groups' "
            "age mix. Without identities UTKFace cannot say whether a gap is warranted."
        )
    return out


def _below_gap(rows: dict, lo: str, hi: str) -> str:
    b_lo, b_hi = (rows[g]["detect"]["tinyfqnet"].get("below", {}) for g in (lo, hi))
    k = next(iter(b_lo), None)
    if k is None:
        return ""
    return f"; below {k}: {_pct(b_lo[k])} of {lo} against {_pct(b_hi[k])} of {hi}"


def _sets_reading(s: dict) -> list[str]:
    out = []
    groups = s["groups"]
    rho = {g: r["models"]["tinyfqnet"]["spearman"] for g, r in groups.items()}
    out.append(
        f"- Spearman of the score with the verifier's label, by set: from "
        f"{min(rho.values()):.2f} ({min(rho, key=rho.get)}) to {max(rho.values()):.2f} "
        f"({max(rho, key=rho.get)})."
    )
    rt = s["residual"]["tinyfqnet"]["groups"]
    kinds = {v: [g for g, r in rt.items() if verdict(r) == v] for v in map(verdict, rt.values())}
    both = kinds.get("**flagged, both fits**", [])
    one = kinds.get("flagged, forward fit only", [])
    above = kinds.get("above its labels, both fits", [])
    out.append(
        "- Residual test: "
        + (
            f"**{', '.join(both)}** scored lower than their recognisability warrants (flagged, "
            "and the reverse fit agrees)"
            if both
            else "no set is scored lower than its recognisability warrants by both fits"
        )
        + (
            f"; {', '.join(one)} flagged by the forward fit only (low labels and low scores "
            "together: not evidence of unfairness on its own)"
            if one
            else ""
        )
        + (f"; {', '.join(above)} scored above what their labels warrant" if above else "")
        + "."
    )
    cut = {}
    for g, r in groups.items():
        e = r["models"]["tinyfqnet"]["edc"]
        if e and e["fnmr_at_discard"]["0"] > 0:
            f0, f4 = e["fnmr_at_discard"]["0"], e["fnmr_at_discard"]["0.4"]
            cut[g] = (f0, f4, 1 - f4 / f0)
    if cut:
        order = sorted(cut, key=lambda g: -cut[g][2])
        out.append(
            "- Discarding the lowest-scored 40% of a set's genuine pairs cuts the verifier's "
            "FNMR by " + ", ".join(f"{100 * cut[g][2]:.0f}% on {g}" for g in order) + "."
        )
        hard = [g for g in order if cut[g][0] >= 0.3]
        if hard:
            out[-1] += (
                " Where the verifier itself fails most (FNMR ≥ 30% with nothing discarded: "
                + ", ".join(f"{g} {_pct(cut[g][0])}" for g in hard)
                + f"), discarding cuts it by at most {100 * max(cut[g][2] for g in hard):.0f}%: "
                "that error is the recogniser's on those faces, not the photos', and a quality "
                "gate does not remove it."
            )
    fmr = {g: r["fmr"] for g, r in groups.items() if r["impostor_pairs"]}
    if fmr:
        hi = max(fmr, key=fmr.get)
        out.append(
            f"- At the one threshold (FMR {s['fmr']:g} over all sets' impostor pairs) the "
            f"sets' own FMR runs up to {fmr[hi]:.4f} ({hi}, {fmr[hi] / s['fmr']:.0f}× the "
            "pooled rate): the verifier confuses people within a set more than across sets, a "
            "difference of the recogniser that no quality score can remove."
        )
    return out


def _reading(res: dict) -> list[str]:
    out = ["## Reading", ""]
    u = res.get("utkface", {})
    if u and "skipped" not in u:
        out += _utk_reading(u)
    s = res.get("sets", {})
    if s.get("groups"):
        out += _sets_reading(s | {"fmr": res["config"]["fmr"]})
    if s.get("skipped"):
        out.append(
            "- Sets not run: " + "; ".join(f"{k} ({v})" for k, v in s["skipped"].items()) + "."
        )
    return out + [""]


LIMITS = [
    "## Where this falls short",
    "",
    "- **A set is not a population.** The identity sets stand in for the people they sample "
    "(Korean singers, Indian actors, Asian celebrities, mostly white news subjects); no photo "
    "carries a race, age or gender label, and two of the sets (Yale B, NUAA) vary the capture, "
    "not the people. UTKFace has the labels but no identities, so it gets distributions only, "
    "never the residual test.",
    "- **Few people in some sets.** BLACKPINK has 4 people and Bollywood 5: intervals that "
    "resample 4 or 5 people are rough, and a set's numbers are as much about those people and "
    "their photographers as about a population.",
    "- **The label is one recogniser's view.** dlib's ResNet was trained mostly on Western "
    "celebrities; its FNMR is many times higher on the Korean and Asian sets than on LFW. A "
    "set it under-rates looks *over*-scored here, and a set it over-rates (Yale B: every "
    "lighting of the same pose and expression, so the leave-one-out centre is unusually close; "
    "NUAA: webcam frames of one session) can look under-scored. A second verifier (ArcFace) "
    "would show how much of each gap is dlib's.",
    "- **Label quality of the sources.** The Asian-faces set's labels are partly uncleaned, "
    "and Bollywood photos can show several people (the largest face is taken): wrong labels "
    "lower the verifier's label and raise its FNMR there.",
    "- **Cross-set impostors.** The same person can be in two sets under two names (a "
    "BLACKPINK member is also in kpop15); such pairs count as impostors for the threshold. "
    "Per set at most the configured number of photos (evenly spaced through each person's "
    "photos) are used.",
]


def markdown(res: dict) -> str:
    models = ", ".join(f"{m} = {v}" for m, v in res["models"].items())
    lines = [
        "# Fairness: scores by group (issue 25, item 6)",
        "",
        f"`python -m evaluation fairness` — models: {models}; verifier: {res['verifier']}; "
        f"{res['seconds']:.0f} s. Aggregate numbers only; no face image is stored or shown.",
        "",
    ]
    lines += _reading(res)
    if "utkface" in res:
        lines += _utkface(res["utkface"], res)
    lines += _sets(res["sets"], res)
    lines += LIMITS
    return "\n".join(lines).rstrip() + "\n"
