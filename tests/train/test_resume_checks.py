"""``--resume`` refuses to continue a run on other data, another model or another config."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import FAST, curated_records, write_shards

from pipeline.train.fingerprint import ResumeMismatchError

pytestmark = pytest.mark.train
torch = pytest.importorskip("torch")

CFG = {**FAST, "eval_every": 2}


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, tiny_llama):
    """A run stopped at step 2 of 4 (data, run folder) - copied by each test that changes it."""
    from pipeline.train.api import train
    root = tmp_path_factory.mktemp("stopped")
    data = write_shards(root / "data", curated_records(12), curated_records(4, seed=3))
    s = train(data, str(tiny_llama), root / "run", max_steps=4, overrides=CFG, stop_at=2)
    assert s["steps"] == 2 and not s["finished"]
    return root


def _copy(stopped, tmp_path):
    shutil.copytree(stopped / "data", tmp_path / "data")
    shutil.copytree(stopped / "run", tmp_path / "run")
    return tmp_path / "data", tmp_path / "run"


def _resume(data, run, model, **kw):
    from pipeline.train.api import train
    overrides = {**CFG, **kw.pop("overrides", {})}
    return train(data, str(model), run, max_steps=kw.pop("max_steps", 4), overrides=overrides, resume=True, **kw)


def test_checkpoint_records_the_fingerprint(stopped):
    state = json.loads((stopped / "run" / "checkpoints" / "last" / "state.json").read_text())
    fp = state["fingerprint"]
    assert set(fp["data"]["files"]) == {"curated/train-00000-of-00001.parquet",
                                        "curated/validation-00000-of-00001.parquet"}
    assert all(len(h) == 64 for h in fp["data"]["files"].values())
    assert fp["data"]["manifest_config_hash"] == "cafebabe1234"
    assert fp["config"]["lr"] == CFG["lr"] and "progress" not in fp["config"]


def test_changed_shard_is_refused(stopped, tiny_llama, tmp_path):
    data, run = _copy(stopped, tmp_path)
    recs = curated_records(12)
    recs[5]["output"] = "a different answer"
    write_shards(data, recs, curated_records(4, seed=3))
    with pytest.raises(ResumeMismatchError) as err:
        _resume(data, run, tiny_llama)
    [problem] = err.value.problems
    assert problem.startswith("data: curated/train-00000-of-00001.parquet changed (sha256 ")
    assert "train-00000-of-00001.parquet changed" in str(err.value) and "without --resume" in str(err.value)


def test_added_shard_and_manifest_hash_are_refused(stopped, tiny_llama, tmp_path):
    data, run = _copy(stopped, tmp_path)
    shutil.copy(data / "curated" / "train-00000-of-00001.parquet", data / "curated" / "train-00001-of-00001.parquet")
    manifest = json.loads((data / "manifest.json").read_text())
    (data / "manifest.json").write_text(json.dumps({**manifest, "config_hash": "0123456789ab"}))
    with pytest.raises(ResumeMismatchError) as err:
        _resume(data, run, tiny_llama)
    assert err.value.problems == [
        "data: curation manifest config_hash cafebabe1234 -> 0123456789ab",
        "data: curated/train-00001-of-00001.parquet is new (the checkpointed run did not read it)"]


def test_changed_config_and_model_are_refused(stopped, tiny_llama, tiny_qwen, tmp_path):
    data, run = _copy(stopped, tmp_path)
    with pytest.raises(ResumeMismatchError) as err:
        _resume(data, run, tiny_llama, overrides={"lr": 1e-3}, max_steps=6)
    assert err.value.problems == ["config: lr: 0.005 -> 0.001", "config: max_steps: 4 -> 6"]
    with pytest.raises(ResumeMismatchError, match="model: .*tiny_llama.* -> .*tiny_qwen"):
        _resume(data, run, tiny_qwen)
    # Nothing was touched by the refused attempts: the real resume still works.
    s = _resume(data, run, tiny_llama, overrides={"progress": True, "save_every": 7})  # cosmetic only
    assert s["steps"] == 4 and s["event"] == "end"


def test_resume_without_checkpoint_is_a_clear_error(curated, tiny_llama, tmp_path):
    with pytest.raises(ResumeMismatchError, match="no complete checkpoint"):
        _resume(curated, tmp_path / "empty", tiny_llama)


def test_fresh_run_clears_old_checkpoints(stopped, tiny_llama, tmp_path):
    from pipeline.train.api import train
    data, run = _copy(stopped, tmp_path)
    train(data, str(tiny_llama), run, max_steps=1, overrides={**CFG, "lr": 1e-3}, stop_at=1)
    state = json.loads((run / "checkpoints" / "last" / "state.json").read_text())
    assert state["step"] == 1 and state["fingerprint"]["config"]["lr"] == 1e-3


def test_cli_reports_a_mismatch_without_traceback(stopped, tiny_llama, tmp_path):
    from click.testing import CliRunner

    from pipeline.train.commands import train_cmd
    data, run = _copy(stopped, tmp_path)
    res = CliRunner().invoke(train_cmd, ["--data", str(data), "--model", str(tiny_llama), "--out", str(run),
                                         "--max-steps", "4", "--max-seq-len", "128", "--resume", "--quiet"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "cannot resume" in res.output and "config: max_seq_len" not in res.output
    assert "config: lr: 0.005 -> 0.0002" in res.output  # the CLI run did not pass the test's lr
