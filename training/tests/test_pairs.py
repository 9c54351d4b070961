"""The same-photo ranking loss: which pairs it draws from the labels, and what it asks of the
model's scores; and the rank loss over a batch's originals."""

import numpy as np
import pytest
import torch

from training.losses import degradation_pairs, pair_loss, rank_loss


def row(relpath, copy, variant, label):
    return {"relpath": relpath, "copy": copy, "variant": variant, "label": label}


def test_pairs_join_each_copy_to_its_own_photos_original():
    rows = [
        row("a.jpg", 0, "original", 0.7),
        row("a.jpg", 1, "chain", 0.5),
        row("a.jpg", 2, "blank", -0.1),  # labels are clipped to [0, 1] as in the regression
        row("b.jpg", 0, "original", 0.6),
        row("b.jpg", 1, "focus", 0.65),  # the labeller may say better: the drop is negative
        row("c.jpg", 100, "earlier-original", 0.5),
        row("c.jpg", 101, "earlier-degraded", 0.2),
        row("d.jpg", 1, "chain", 0.1),  # no original labelled: no pair
    ]
    pairs = degradation_pairs(rows)
    got = {(o, c): round(d, 6) for o, c, d in pairs}
    assert got == {
        (("a.jpg", 0), ("a.jpg", 1)): 0.2,
        (("a.jpg", 0), ("a.jpg", 2)): 0.7,
        (("b.jpg", 0), ("b.jpg", 1)): -0.05,
        (("c.jpg", 100), ("c.jpg", 101)): 0.3,
    }


def test_loss_asks_for_at_least_the_labellers_drop_and_the_margin():
    drop = torch.tensor([0.2, -0.05])
    # the model's drops: 0.25 >= 0.2 and 0.03 >= the margin 0.02 -> nothing to pay
    assert float(pair_loss(torch.tensor([0.8, 0.6]), torch.tensor([0.55, 0.57]), drop, 0.02)) == 0
    # a copy scored above its original costs, even where the labeller saw no drop
    s_orig = torch.tensor([0.5, 0.5], requires_grad=True)
    s_copy = torch.tensor([0.45, 0.55], requires_grad=True)
    loss = pair_loss(s_orig, s_copy, drop, 0.02)
    assert loss.item() == pytest.approx(((0.2 - 0.05) ** 2 + (0.02 + 0.05) ** 2) / 2)
    loss.backward()
    assert (s_orig.grad < 0).all() and (s_copy.grad > 0).all()  # descent: original up, copy down


def test_pair_kinds_keep_only_copies_with_one_of_the_named_steps():
    rows = [
        row("a.jpg", 0, "original", 0.7),
        {**row("a.jpg", 1, "focus", 0.6), "degradation": "crop/jpeg:quality=20"},
        {**row("a.jpg", 2, "chain", 0.4), "degradation": "photo/blur:sigma=2 > crop/gamma:gamma=3"},
        {**row("a.jpg", 3, "chain", 0.3), "degradation": "photo/jpeg:quality=9"},  # not crop/jpeg
        row("a.jpg", 4, "blank", 0.0),  # no degradation at all
    ]
    got = [c for _, c, _ in degradation_pairs(rows, "crop/jpeg,crop/gamma")]
    assert got == [("a.jpg", 1), ("a.jpg", 2)]
    assert len(degradation_pairs(rows)) == 4  # no kinds: every copy


def test_predict_flip_averages_on_request_and_leaves_the_model_training():
    from pathlib import Path

    from training.model import ModelArgs, TinyFQNet
    from training.train import predict

    ckpt = Path(__file__).parents[1] / "runs" / "mbf-2026.12.01" / "checkpoint.pt"
    start = torch.load(ckpt, map_location="cpu", weights_only=False)
    model = TinyFQNet(ModelArgs.from_dict(start["model_args"]))
    model.load_state_dict(start["state_dict"])  # trained: a fresh net scores every input alike
    model.train()
    torch.manual_seed(0)
    x = torch.rand(5, 3, 64, 64)
    x[:, :, :, :20] = 0  # not symmetric: its mirror image scores differently
    t = predict(model, x, "cpu", mirror=True)
    assert model.training and not t.requires_grad and t.shape == (5,)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(t, 0.5 * (model(x) + model(x.flip(3))), atol=1e-6)
        assert not torch.allclose(t, model(x), atol=1e-6)  # the mirror image counts
        plain = model(x)
    assert torch.allclose(predict(model, x, "cpu"), plain, atol=1e-6)  # no mirror: eval scores
    assert predict(model, x[:0], "cpu").shape == (0,)  # nothing in, nothing out


def test_rank_loss_orders_pairs_apart_by_more_than_the_gap_and_only_those():
    label = torch.tensor([0.8, 0.5, 0.52])
    # in order, each pair at least half its label difference apart: nothing to pay
    assert float(rank_loss(torch.tensor([0.9, 0.6, 0.4]), label, 0.05)) == 0
    score = torch.tensor([0.5, 0.6, 0.7], requires_grad=True)  # the best photo scored lowest
    loss = rank_loss(score, label, 0.05)
    # pairs (0, 1) and (0, 2) count; (2, 1) differ by 0.02 < gap and do not, whatever the order
    assert loss.item() == pytest.approx(((0.15 + 0.1) ** 2 + (0.14 + 0.2) ** 2) / 2)
    loss.backward()
    assert score.grad[0] < 0 and score.grad[1] > 0 and score.grad[2] > 0  # descent: 0 up
    flat = torch.tensor([0.5, 0.52], requires_grad=True)
    zero = rank_loss(flat, torch.tensor([0.6, 0.62]), 0.05)  # no pair apart by the gap
    assert zero.item() == 0 and zero.requires_grad


def test_rank_loss_with_groups_orders_only_pairs_within_a_group():
    label = torch.tensor([0.9, 0.5, 0.2, 0.8])
    score = torch.tensor([0.5, 0.6, 0.9, 0.1], requires_grad=True)
    group = torch.tensor([0, 0, 1, 1])
    loss = rank_loss(score, label, 0.05, group)
    # (0, 1) and (3, 2) are pairs of one person; the six pairs across people do not count
    assert loss.item() == pytest.approx(((0.2 + 0.1) ** 2 + (0.3 + 0.8) ** 2) / 2)
    assert loss.item() != pytest.approx(rank_loss(score, label, 0.05).item())
    loss.backward()
    assert score.grad[0] < 0 and score.grad[1] > 0 and score.grad[3] < 0 and score.grad[2] > 0
    apart = torch.tensor([0, 1, 2, 3])  # every photo its own person: nothing to order
    zero = rank_loss(score, label, 0.05, apart)
    assert zero.item() == 0 and zero.requires_grad


def test_person_originals_groups_each_persons_clean_photos_and_draw_groups_stays_inside():
    from training.losses import draw_groups, person_originals

    rows = [
        {"relpath": "a/1.jpg", "copy": 0, "identity": "a", "variant": "original"},
        {"relpath": "a/1.jpg", "copy": 1, "identity": "a", "variant": "chain"},
        {"relpath": "a/2.jpg", "copy": 0, "identity": "a", "variant": "earlier-original"},
        {"relpath": "b/1.jpg", "copy": 0, "identity": "b", "variant": "original"},  # alone
        {"relpath": "c/1.jpg", "copy": 0, "identity": "c", "variant": "original"},
        {"relpath": "c/2.jpg", "copy": 0, "identity": "c", "variant": "original"},
        {"relpath": "c/3.jpg", "copy": 0, "identity": "c", "variant": "original"},
    ]
    people = person_originals(rows)
    assert people == [[("a/1.jpg", 0), ("a/2.jpg", 0)], [(f"c/{i}.jpg", 0) for i in (1, 2, 3)]]
    table = torch.tensor([[10, 11, -1], [20, 21, 22]])  # -1: padding, never drawn
    counts = torch.tensor([2, 3])
    rows_, group = draw_groups(table, counts, 50, 4, torch.Generator().manual_seed(0))
    assert rows_.shape == group.shape == (200,)
    assert bool((rows_ >= 0).all())
    person = rows_ // 10  # 1 or 2: every row of a group is one person's
    for g in range(50):
        assert len(set(person[group == g].tolist())) == 1
    assert set(rows_.tolist()) == {10, 11, 20, 21, 22}  # every photo is drawn in 200 draws


def test_person_offsets_bring_each_persons_mean_toward_one_and_keep_order_within():
    from training.losses import person_offsets

    def row(who, n, label, variant="original"):
        return {"relpath": f"{who}/{n}.jpg", "identity": who, "variant": variant, "label": label}

    rows = [
        row("a", 1, 0.9),
        row("a", 2, 0.7),
        row("a", 1, 0.3, "chain"),  # originals' mean 0.8
        row("b", 1, 0.4),
        row("b", 2, 0.2),
        row("b", 3, 0.3),  # mean 0.3
    ]  # mean over people: 0.55
    full = person_offsets(rows, 1.0)
    assert full == pytest.approx({"a": -0.25, "b": 0.25})
    shifted = [r["label"] + full[r["identity"]] for r in rows]
    assert np.mean(shifted[:2]) == pytest.approx(np.mean(shifted[3:]))  # no person better
    assert shifted[0] - shifted[1] == pytest.approx(0.2)  # the order and gaps within stay
    assert shifted[0] - shifted[2] == pytest.approx(0.6)  # and so does a copy's drop
    assert person_offsets(rows, 0.5) == pytest.approx({"a": -0.125, "b": 0.125})
    assert person_offsets(rows, 0.0) == pytest.approx({"a": 0.0, "b": 0.0})
    with pytest.raises(ValueError, match="person-centring"):
        person_offsets(rows, 1.5)


def test_tone_curve_darkens_above_one_brightens_below_and_keeps_black_and_white():
    from training.losses import tone_curve

    px = torch.tensor([0.0, 64.0, 128.0, 255.0]).reshape(1, 1, 1, 4).repeat(3, 3, 1, 1)
    x = (px - 127.5) / 128.0
    out = tone_curve(x, torch.tensor([1.0, 2.0, 0.5])) * 128.0 + 127.5
    assert torch.allclose(out[0], px[0], atol=1e-3)  # gamma 1: unchanged
    assert torch.allclose(out[1, 0, 0], torch.tensor([0.0, 16.06, 64.25, 255.0]), atol=0.05)
    assert bool((out[2, ..., 1:3] > px[2, ..., 1:3]).all())  # gamma 0.5 brightens mid-tones
    assert torch.allclose(out[:, ..., 0], torch.zeros(3, 3, 1)) and torch.allclose(
        out[:, ..., 3], torch.full((3, 3, 1), 255.0)
    )
