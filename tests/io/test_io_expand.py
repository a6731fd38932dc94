"""expand_inputs: files, folders, globs, save_to_disk folders, hub names, missing paths."""

from __future__ import annotations

import os

import pytest
from io_helpers import ALPACA

from pipeline.io.readers import expand_inputs


@pytest.fixture
def tree(write, tmp_path):
    for name in [
        "b.jsonl",
        "a.json",
        "sub/c.csv",
        "sub/deeper/d.parquet",
        "sub/e.jsonl.gz",
        "notes.txt",
        ".hidden/x.json",
        "sub/.skip.json",
        "README.md",
    ]:
        write(name, ALPACA if name.endswith((".json", ".jsonl", ".gz")) else b"x")
    return tmp_path


def test_directory_walk_is_recursive_sorted_and_filtered(tree):
    paths, errors = expand_inputs([str(tree)])
    assert errors == []
    assert [os.path.relpath(p, tree) for p in paths] == [
        "a.json",
        "b.jsonl",
        "sub/c.csv",
        "sub/deeper/d.parquet",
        "sub/e.jsonl.gz",
    ]


def test_globs_files_and_duplicates(tree):
    a = str(tree / "a.json")
    paths, errors = expand_inputs(
        [str(tree / "sub" / "*.csv"), a, str(tree / "*.json"), str(tree / "sub"), str(tree / "**" / "*.gz")]
    )
    assert errors == []
    assert [os.path.relpath(p, tree) for p in paths] == [
        "a.json",
        "sub/c.csv",
        "sub/deeper/d.parquet",
        "sub/e.jsonl.gz",
    ]


def test_explicit_file_with_any_extension_is_kept(tree):
    paths, _ = expand_inputs([str(tree / "notes.txt")])
    assert paths == [str(tree / "notes.txt")]


def test_missing_paths_and_empty_globs_are_errors(tree):
    paths, errors = expand_inputs([str(tree / "nope.json"), str(tree / "*.xml"), str(tree / "a.json")])
    assert paths == [str(tree / "a.json")]
    assert [(e.file, e.message) for e in errors] == [
        (str(tree / "nope.json"), "no such file or directory"),
        (str(tree / "*.xml"), "no file matches this pattern"),
    ]


def test_save_to_disk_folder_is_one_input(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(ALPACA).save_to_disk(str(tmp_path / "data" / "saved"))
    (tmp_path / "data" / "other.jsonl").write_text("{}\n")
    paths, _errors = expand_inputs([str(tmp_path / "data")])
    assert [os.path.relpath(p, tmp_path) for p in paths] == ["data/other.jsonl", "data/saved"]


def test_hub_names_pass_through():
    paths, errors = expand_inputs(["hf:tatsu-lab/alpaca:train", "hf:tatsu-lab/alpaca:train"])
    assert paths == ["hf:tatsu-lab/alpaca:train"] and errors == []
