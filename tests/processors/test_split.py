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
