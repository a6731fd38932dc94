"""Runs shared by the report tests (session-scoped: each pipeline run happens once).

The fixture corpus is written here: English and Chinese records, exact and near
duplicates, a few records every stage has a reason to drop or flag, and hostile
markup in instructions, outputs and in a file name, so the same runs serve the
section, numbers, escaping and compare tests.
"""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from pipeline.runner import run

# Payloads that would *act* if they ever ran: each marks the page (no alert(), which would
# block headless Chromium on a dialog instead of failing the test).
HOSTILE = ["<script>document.body.dataset.pwned=1</script>", "<img src=x onerror=document.body.dataset.pwned=2>",
           "</table></section></main>", "\"><svg onload=document.body.dataset.pwned=3>"]
EVIL_FILE = "evil\"><svg onload=document.body.dataset.pwned=4>.jsonl"
FULL = ["normalize", "schema", "dedup", "language", "quality", "format", "leak", "decontam", "diversity",
        "refusal", "split"]
PARTIAL = ["normalize", "schema", "quality", "format", "split"]


def _records() -> list[dict]:
    en = [("What is the capital of France?", "Paris is the capital of France."),
          ("List three primary colors.", "1. Red\n2. Blue\n3. Yellow"),
          ("Explain photosynthesis in one sentence.", "Plants turn light, water and CO2 into sugar and oxygen."),
          ("Give two tips for better sleep.", "1. Keep a fixed schedule.\n2. Avoid screens before bed."),
          ("Write a haiku about autumn.", "Crisp leaves drift and fall\nGolden light on quiet paths\nThe year exhales slow"),
          ("Translate 'good morning' into Spanish.", "Buenos días."),
          ("What is 12 times 11?", "12 × 11 = 132."),
          ("Summarize the following article.", "The article discusses the economy."),  # no input given
          ("Name a famous physicist.", "Albert Einstein."),
          ("Classify the sentiment: 'I love this phone.'", "Positive.")]
    zh = [("请问法国的首都叫什么名字？", "法国的首都是巴黎。"), ("列举三种常见的水果。", "1. 苹果\n2. 香蕉\n3. 橙子"),
          ("解释一下什么是光合作用。", "光合作用是植物利用光能把二氧化碳和水转化为有机物并释放氧气的过程。"),
          ("给出两条学习英语的建议。", "1. 每天坚持阅读。\n2. 多听多说。"), ("23加上58等于多少？", "23加上58等于71。"),
          ("请总结以下文章的主要内容。", "文章主要讲了环境保护的重要性。"), ("写一句关于春天的诗。", "春风又绿江南岸。")]
    rows = [{"instruction": i, "input": "", "output": o} for i, o in en + zh]
    for n, h in enumerate(HOSTILE):
        rows.append({"instruction": f"Explain this HTML snippet {n}: {h}", "input": "",
                     "output": f"The snippet {h} is markup; shown here as text {n}."})
    # Exact copies of the hostile records: dedup drops them, so they show up as examples.
    rows += [dict(r) for r in rows[-len(HOSTILE):]]
    rows.append({"instruction": f"Repeat {HOSTILE[0]}", "input": "", "output": ""})  # empty output: dropped
    rows.append(dict(rows[0]))  # exact duplicate
    rows.append({"instruction": "what is the capital of  france ?", "input": "", "output": "Paris is the capital of France."})
    rows.append({"instruction": HOSTILE[1], "input": "", "output": 7})  # wrong type: ingest reject (raw record)
    return rows


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = _records()
    (folder / EVIL_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[17:]),
                                    encoding="utf-8")
    (folder / "中文.json").write_text(json.dumps(rows[:17], ensure_ascii=False, indent=1), encoding="utf-8")
    return folder


def _recipe(path: Path, stages: list[str], rules: dict | None = None) -> Path:
    path.write_text(yaml.safe_dump({"stages": stages, "rules": rules or {}}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def full_run(tmp_path_factory, corpus) -> Path:
    """Every stage of the default recipe."""
    tmp = tmp_path_factory.mktemp("full")
    out = tmp / "out"
    run([str(corpus)], config=_recipe(tmp / "recipe.yaml", FULL), out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def partial_run(tmp_path_factory, corpus) -> Path:
    """A few stages only, with one quality check turned from drop to flag (for compare)."""
    tmp = tmp_path_factory.mktemp("partial")
    out = tmp / "out"
    rules = {"quality": {"checks": {"missing_input": {"action": "flag"}}}}
    run([str(corpus)], config=_recipe(tmp / "recipe.yaml", PARTIAL, rules), out=out, progress=False)
    return out


def load(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text(encoding="utf-8"))


class Tree(HTMLParser):
    """A minimal DOM walk: every element as (tag, attrs, id of the enclosing section),
    and the text of each table (rows of cells) per section."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict, str | None]] = []
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.text: list[str] = []
        self._section: str | None = None
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self.end_tags: dict[str, int] = {}
        self.in_main = False
        self.sections_outside_main: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "main":
            self.in_main = True
        if tag == "section":
            self._section = a.get("id")
            if not self.in_main:
                self.sections_outside_main.append(str(a.get("id")))
        self.elements.append((tag, a, self._section))
        if tag == "table":
            self.tables.setdefault(self._section or "", []).append([])
        elif tag == "tr" and self._section is not None and self.tables.get(self._section):
            self.tables[self._section][-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        self.end_tags[tag] = self.end_tags.get(tag, 0) + 1
        if tag == "main":
            self.in_main = False
        if tag in ("td", "th") and self._cell is not None and self.tables.get(self._section or ""):
            self.tables[self._section or ""][-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html_text: str) -> Tree:
    t = Tree()
    t.feed(html_text)
    t.close()
    return t


def table_dicts(table: list[list[str]]) -> list[dict]:
    """A parsed table (header row first) as dicts."""
    head, *rows = table
    return [dict(zip(head, r)) for r in rows]
