from pipeline.processors.split import Split, side
from pipeline.record import from_rows, new_record


def test_side_is_stable_and_near_the_ratio():
    ids = [f"id{i}" for i in range(20000)]
    val = sum(side(i, 1, 0.1) == "validation" for i in ids)
    assert 1800 < val < 2200
    assert [side(i, 1, 0.1) for i in ids[:50]] == [side(i, 1, 0.1) for i in ids[:50]]
    assert all(side(i, 1, 0.0) == "train" for i in ids[:100])


def test_process_sets_meta_split():
    recs = [new_record(instruction=f"Q{i}?", output="A.") for i in range(200)]
    p = Split({"val_ratio": 0.3, "hygiene": {"enabled": False}}, seed=3)
    p.fit([from_rows(recs)])
    out, verdicts = p.process(from_rows(recs))
    splits = [m["split"] for m in out["meta"]]
    assert set(splits) == {"train", "validation"}
    assert all(v.keep for v in verdicts)


def test_upsampled_copies_land_beside_their_original():
    orig = [new_record(instruction=f"Q{i}?", output="A.") for i in range(300)]
    copies = [new_record(instruction=r["instruction"], output=r["output"], id=f"{r['id']}-copy",
                         origin="injected", meta={"upsampled_from": r["id"], "copy": 1}) for r in orig]
    p = Split({"val_ratio": 0.3, "hygiene": {"enabled": False}}, seed=5)
    p.fit([from_rows(orig + copies)])
    out, _ = p.process(from_rows(orig + copies))
    sides = [m["split"] for m in out["meta"]]
    assert sides[:300] == sides[300:]
    assert "validation" in sides


def _cross_leak_records():
    """Near-duplicate prompt pairs (EN and ZH) plus unrelated ones, 60 records."""
    recs = []
    for i in range(20):
        q = f"Explain step by step how the river system number {i} floods the valley every spring season"
        recs.append(new_record(instruction=q, output="A."))
        recs.append(new_record(instruction=q + " please", output="B."))
        recs.append(new_record(instruction=f"请详细解释第{i}号河流系统每年春天如何淹没整个山谷地区的过程", output="C."))
    return recs


def test_hygiene_moves_cross_side_near_duplicates_to_train_with_or_without_engine_features():
    recs = _cross_leak_records()
    batch = from_rows(recs)
    plain = Split({"val_ratio": 0.5}, seed=11)
    plain.fit([from_rows(recs)])
    featured = Split({"val_ratio": 0.5}, seed=11)
    with_feats = {**from_rows(recs), "_fit": featured.fit_features(batch)}
    featured.fit([with_feats])
    assert plain.moved == featured.moved and plain.groups == featured.groups
    assert plain.groups > 0 and set(plain.moved.values()) == {"train"}
    out, verdicts = plain.process(from_rows(recs))
    for j in range(0, 60, 3):  # each EN near-duplicate pair ends on one side
        assert out["meta"][j]["split"] == out["meta"][j + 1]["split"]
    moved = [v for v in verdicts if "split_cross_leak" in v.flags]
    assert len(moved) == len(plain.moved)
