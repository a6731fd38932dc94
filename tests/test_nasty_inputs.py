"""End-to-end hardening: the full default recipe on the nastiest inputs we could build.

Every case is generated under ``tmp_path`` (no data is committed). The invariants checked
are the ones DESIGN.md promises: every bad record gets a reason code, every bad file an
error naming file and line, nothing is lost, no tracebacks for user errors, exit codes
0/1/2, and byte-identical outputs for ``num_proc`` 1 and 2.

A full default-recipe run is expensive, so the cases share a few runs: one mixed
"nasty" folder (run once per module, reused by most tests), one run with the 10 MB
fields, and small CLI runs.
"""
from __future__ import annotations

import codecs
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO

CHECK = REPO.parent / "shared" / "tools" / "check_outputs.py"
#: Size of the huge fields in test_10mb_output_and_10mb_instruction. That test takes about a
#: minute on a busy two-core machine, nearly all of it linear per-stage text work.
BIG_MB = int(os.environ.get("SFTPIPE_NASTY_BIG_MB", "10"))

# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

_EN_TOPICS = ["photosynthesis", "the water cycle", "binary search", "compound interest", "volcanoes",
              "the French revolution", "TCP handshakes", "prime numbers", "bread baking", "black holes",
              "vaccines", "supply and demand", "recursion", "plate tectonics", "the immune system"]
_ZH_TOPICS = ["光合作用", "水循环", "二分查找", "复利", "火山", "法国大革命", "三次握手", "质数", "面包烘焙",
              "黑洞", "疫苗", "供求关系", "递归", "板块构造", "免疫系统"]


def en_record(i: int) -> dict:
    """A plausible English Alpaca record, distinct for every ``i``."""
    t = _EN_TOPICS[i % len(_EN_TOPICS)]
    return {"instruction": f"Explain {t} to a curious student in a short paragraph (variant {i}).",
            "input": "",
            "output": (f"{t.capitalize()} is a topic many students meet early. In short, it describes how "
                       f"one process leads to another, and example number {i} shows the idea with a simple "
                       f"case that anyone can follow step by step.")}


def zh_record(i: int) -> dict:
    """A plausible Chinese Alpaca record, distinct for every ``i``."""
    t = _ZH_TOPICS[i % len(_ZH_TOPICS)]
    return {"instruction": f"请用一段简短的话向学生解释{t}（第{i}题）。",
            "input": "",
            "output": f"{t}是学生常常遇到的概念。简单来说，它描述了一个过程如何引出另一个过程，"
                      f"第{i}个例子用一个任何人都能一步步理解的简单情形说明了这个道理。"}


def _jsonl(records: list, encoding: str = "utf-8", bom: bytes = b"") -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return bom + text.encode(encoding)


def build_nasty(root: Path) -> dict:
    """Write the mixed nasty folder; return what each file is expected to produce.

    Returns:
        ``{file name: {"records": n raw records read, "error": (line or None, substring) or None,
        "reasons": {ingest reason: count}}}`` for the files whose ingest outcome is fixed.
    """
    root.mkdir(parents=True, exist_ok=True)
    exp: dict = {}
    n = iter(range(10_000))

    # --- encodings -------------------------------------------------------------------------
    (root / "gbk.jsonl").write_bytes(_jsonl([zh_record(next(n)) for _ in range(3)], "gbk"))
    exp["gbk.jsonl"] = {"records": 3, "encoding": "gb18030"}
    rare = zh_record(next(n))
    rare["output"] += " 𠀀𠀁 😀 €"  # 4-byte GB18030 sequences, outside GBK
    arr = json.dumps([zh_record(next(n)), rare], ensure_ascii=False, indent=1)
    (root / "gb18030.json").write_bytes(arr.encode("gb18030"))
    exp["gb18030.json"] = {"records": 2, "encoding": "gb18030", "text": "𠀀𠀁 😀 €"}
    (root / "bom8.jsonl").write_bytes(_jsonl([en_record(next(n)), zh_record(next(n))], bom=codecs.BOM_UTF8))
    exp["bom8.jsonl"] = {"records": 2}
    arr = json.dumps([en_record(next(n)), zh_record(next(n))], ensure_ascii=False)
    (root / "utf16le.json").write_bytes(codecs.BOM_UTF16_LE + arr.encode("utf-16-le"))
    exp["utf16le.json"] = {"records": 2}
    (root / "utf16be.jsonl").write_bytes(_jsonl([en_record(next(n)), zh_record(next(n))], "utf-16-be",
                                                codecs.BOM_UTF16_BE))
    exp["utf16be.jsonl"] = {"records": 2}

    # --- broken JSON -----------------------------------------------------------------------
    good = json.dumps([en_record(next(n)), en_record(next(n))], indent=1)
    (root / "truncated.json").write_text(good[:-2] + ',\n {"instruction": "Cut off', encoding="utf-8")
    exp["truncated.json"] = {"records": 2, "error": (None, "truncat")}
    lines = [json.dumps(en_record(next(n))), '{"instruction": "half a record", "output": ',
             json.dumps(zh_record(next(n)), ensure_ascii=False)]
    (root / "broken.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    exp["broken.jsonl"] = {"records": 3, "error": (2, ""), "reasons": {"ingest_invalid_json": 1}}
    # NUL: an escaped \u0000 (valid JSON), a raw NUL inside a string (invalid), a raw NUL line.
    r1 = en_record(next(n))
    r1["output"] = r1["output"][:20] + "\u0000" + r1["output"][20:]
    raw_nul = json.dumps(en_record(next(n))).encode().replace(b"Explain", b"Exp\x00lain")
    data = json.dumps(r1).encode() + b"\n" + raw_nul + b"\n" + b"\x00\x00\x00\n" + \
        json.dumps(en_record(next(n))).encode() + b"\n"
    (root / "nul.jsonl").write_bytes(data)
    exp["nul.jsonl"] = {"records": 4, "error": (2, "NUL"), "reasons": {"ingest_invalid_json": 2}}
    # Lone surrogate escapes, raw invalid UTF-8 bytes, and a valid escaped surrogate pair.
    lines_b = [
        b'{"instruction": "Say hi \\ud800 there.", "input": "", "output": "Hi there, friend."}',
        b'{"instruction": "Bad \xff\xfe bytes here.", "input": "", "output": "Some answer text."}',
        json.dumps({"instruction": "Describe this emoji: \ud83d\ude00 please.", "input": "",
                    "output": "It is a grinning face, used to show happiness."}).encode(),
        b'{"instruction": "Trailing lone low \\udc00", "input": "", "output": "An answer here."}',
    ]
    (root / "surrogates.jsonl").write_bytes(b"\n".join(lines_b) + b"\n")
    exp["surrogates.jsonl"] = {"records": 4, "error": (1, ""), "reasons": {"ingest_undecodable": 3}}

    # --- not JSON at all ---------------------------------------------------------------------
    (root / "empty.jsonl").write_bytes(b"")
    exp["empty.jsonl"] = {"records": 0, "error": (None, "empty")}
    (root / "blank.json").write_text("   \n\t\n  \r\n", encoding="utf-8")
    exp["blank.json"] = {"records": 0, "error": (None, "empty")}
    (root / "notjson.json").write_text("Hello, this is a plain text note, not JSON.\n", encoding="utf-8")
    exp["notjson.json"] = {"records": 0, "error": (1, "not JSON")}
    (root / "binary.jsonl").write_bytes(random.Random(7).randbytes(4096))
    exp["binary.jsonl"] = {"records": 0, "error": (None, "")}
    deep = '[{"instruction": "Deep", "output": "Nested", "meta": ' + "[" * 20_000 + "]" * 20_000 + "}]"
    (root / "deep.json").write_text(deep, encoding="utf-8")
    exp["deep.json"] = {"records": 0, "error": (1, "nested too deeply")}
    deep_l = json.dumps(en_record(next(n)))[:-1] + ', "extra": ' + "{\"a\": " * 5_000 + "1" + "}" * 5_000 + "}"
    (root / "deep.jsonl").write_text(json.dumps(en_record(next(n))) + "\n" + deep_l + "\n", encoding="utf-8")
    exp["deep.jsonl"] = {"records": 2, "error": (2, "depth"), "reasons": {"ingest_invalid_json": 1}}

    # --- wrong types everywhere -------------------------------------------------------------
    bad_values = [123, 4.5, True, False, None, ["a", "b"], {"k": "v"}, []]
    typed = [en_record(next(n))]
    must_fail: dict[int, str] = {}  # index -> the field the reject detail must name
    for field in ("instruction", "input", "output", "system", "history"):
        for v in bad_values:
            r = en_record(next(n))
            r[field] = v
            optional_empty = (v is None and field != "instruction" and field != "output") or (
                field == "history" and isinstance(v, list) and not v)
            if not optional_empty:
                must_fail[len(typed)] = field
            typed.append(r)
    for i in range(5):
        must_fail[len(typed) + i] = "record is"
    typed += [[1, 2, 3], "just a string", 42, None, True,
              dict(en_record(next(n)), history=[{"instruction": 5, "output": None}]),
              dict(en_record(next(n)), history=["not a turn"]),
              dict(en_record(next(n)), history=[["a", "b"]]),
              dict(en_record(next(n)), history=[{"instruction": "Earlier question here?",
                                                  "output": "Earlier answer here."}])]
    (root / "types.jsonl").write_text("".join(json.dumps(r) + "\n" for r in typed), encoding="utf-8")
    must_fail.update({len(typed) - 4: "history", len(typed) - 3: "history"})  # [[q, a]] pairs are fine
    exp["types.jsonl"] = {"records": len(typed), "error": None, "must_fail": must_fail,
                          "must_pass": [0, len(typed) - 2, len(typed) - 1]}
    good_conv = {"conversations": [{"from": "human", "value": "What is the capital of France?"},
                                   {"from": "gpt", "value": "The capital of France is Paris."}]}
    # Enough good records that the format is still detected from the first 32 (a file of
    # mostly broken shapes is an "unknown format" file error by design).
    good_convs = [{"conversations": [{"from": "human", "value": f"What is {i} plus {i}?"},
                                     {"from": "gpt", "value": f"{i} plus {i} is {2 * i}."}]} for i in range(16)]
    convs = [good_conv] + good_convs + [{"conversations": v} for v in bad_values] + [
        {"conversations": ["human", "gpt"]},
        {"conversations": [{"from": 1, "value": 2}, {"from": "gpt", "value": "x y z"}]},
        {"conversations": [{"from": "human", "value": ["a"]}, {"from": "gpt", "value": {"b": 1}}]},
        {"conversations": [{"from": "human", "value": None}, {"from": "gpt", "value": None}]},
        {"conversations": [{"from": "gpt", "value": "Answer first."}, {"from": "human", "value": "Q?"}]},
        {"conversations": [{"from": "human", "value": "A?"}, {"from": "human", "value": "B?"}]},
        {"conversations": [{"from": "tool", "value": "{}"}, {"from": "gpt", "value": "Done."}]},
    ]
    (root / "types_sharegpt.json").write_text(json.dumps(convs), encoding="utf-8")
    exp["types_sharegpt.json"] = {"records": len(convs), "error": None,
                                  "must_fail": {i: "conversations" for i in range(17, len(convs))},
                                  "must_pass": list(range(17))}
    good_msg = {"messages": [{"role": "user", "content": "Name three primary colours, please."},
                             {"role": "assistant", "content": "Red, yellow and blue."}]}
    good_msgs = [{"messages": [{"role": "user", "content": f"Spell the number {i} in words."},
                               {"role": "assistant", "content": f"The number is written {i} as digits."}]}
                 for i in range(16)]
    msgs = [good_msg] + good_msgs + [{"messages": v} for v in bad_values] + [
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": True}]},
        {"messages": [{"role": 7, "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi?"}]},
                      {"role": "assistant", "content": [{"type": "image"}]}]},
        {"messages": [{"role": "system", "content": None}, {"role": "user", "content": "Hi?"},
                      {"role": "assistant", "content": "Hello there."}]},
        {"messages": [{"role": "user"}, {"role": "assistant"}]},
        {"messages": [{}, {}]},
    ]
    (root / "types_openai.jsonl").write_text("".join(json.dumps(m) + "\n" for m in msgs), encoding="utf-8")
    exp["types_openai.jsonl"] = {"records": len(msgs), "error": None,
                                 "must_fail": {i: "messages" for i in range(17, len(msgs))},
                                 "must_pass": list(range(17))}

    # --- odd text ----------------------------------------------------------------------------
    rng = random.Random(3)
    odd = [
        {"instruction": "\u202eTranslate this reversed text\u202c: مرحبا بالعالم", "input": "",
         "output": "It says 'hello world' in Arabic: مرحبا بالعالم."},
        {"instruction": "שלום! What language is this greeting written in?", "input": "",
         "output": "That greeting, שלום, is written in Hebrew and means peace."},
        {"instruction": "Zero\u200bwidth\u200djoiners\ufeffeverywhere in this sentence, explain them.",
         "input": "", "output": "Zero\u200bwidth characters are invisible code points used for shaping."},
        {"instruction": "Describe the family emoji 👨‍👩‍👧‍👦 and the flag 🇫🇷 briefly.", "input": "",
         "output": "The first is a family of four 👨‍👩‍👧‍👦; the second 🇫🇷 is the flag of France."},
        {"instruction": "Normalise cafe\u0301 and Z\u0351\u0352\u0353a\u0354\u0355lgo text for search.",
         "input": "", "output": "Use NFC: cafe\u0301 becomes café, and strip the stacked combining marks."},
        {"instruction": "？？？", "input": "", "output": "请问您想问什么？可以说得更具体一些吗？"},
        {"instruction": "!!!...???", "input": "", "output": "Could you tell me what you would like to know?"},
        {"instruction": "😀😀😀🔥🔥", "input": "", "output": "Those are emoji; what would you like me to do?"},
        {"instruction": "……", "input": "", "output": "请补充您的问题。"},
        {"instruction": "\u200b\u200b", "input": "", "output": "An invisible instruction."},
        {"instruction": "   \t  ", "input": "", "output": "Whitespace instruction."},
        {"instruction": "用中文介绍一下 Python 的 list comprehension 语法。", "input": "",
         "output": "Python 的 list comprehension 是一种简洁的写法，例如 [x * x for x in range(5)] 会生成平方列表。"},
        {"instruction": "Translate to English: 我喜欢在周末读书。", "input": "",
         "output": "I like reading books on weekends."},
        {"instruction": "x" * 300_000, "input": "", "output": "A very long single-token instruction."},
        {"instruction": "Summarise this base64 blob.", "input": "",
         "output": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/") for _ in range(200_000))},
        {"instruction": "Write a long answer about the sea.", "input": "", "output": "P" * 200_000},
    ] + [zh_record(next(n)) for _ in range(6)]
    (root / "oddtext.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in odd),
                                        encoding="utf-8")
    exp["oddtext.jsonl"] = {"records": len(odd)}

    # --- CSV and Parquet ---------------------------------------------------------------------
    csv_text = ("instruction,input,output\n"
                "Name a primary colour.,,Red is a primary colour.\n"
                "Too few cells,only two\n"
                "Too,many,cells,here\n"
                '"A quoted, multi-line\ninstruction here",,"An answer with ""quotes"" in it."\n'
                "请列出三种水果。,,苹果、香蕉和橙子。\n")
    (root / "ragged.csv").write_text(csv_text, encoding="utf-8")
    exp["ragged.csv"] = {"records": 5, "error": (3, ""), "reasons": {"ingest_invalid_row": 2}}
    (root / "dupcol.csv").write_text("instruction,instruction,output\nIgnored?,Name a bird.,A robin is a bird.\n",
                                     encoding="utf-8")
    exp["dupcol.csv"] = {"records": 1, "error": (1, "duplicate column")}
    (root / "quote.csv").write_text('instruction,input,output\n"Unterminated quote,,x\nName a fruit.,,Apple.\n',
                                    encoding="utf-8")
    exp["quote.csv"] = {"records": 1, "error": (2, "1 cells"), "reasons": {"ingest_invalid_row": 1}}
    (root / "gbk.csv").write_bytes("instruction,input,output\n请列出三种颜色。,,红色、黄色和蓝色。\n".encode("gbk"))
    exp["gbk.csv"] = {"records": 1, "error": None, "encoding": "gb18030"}
    t = pa.table({"instruction": pa.array([1, 2, 3], pa.int64()),
                  "input": pa.array(["", "", ""]),
                  "output": pa.array(["One is a number.", "Two is a number.", "Three is a number."])})
    pq.write_table(t, root / "odd_int.parquet")
    exp["odd_int.parquet"] = {"records": 3, "reasons": {"ingest_wrong_type": 3}}
    t = pa.table({
        "instruction": pa.array(["Explain tides briefly.", None, "Explain rainbows briefly."]).dictionary_encode(),
        "input": pa.array([{"a": 1}, {"a": 2}, None], pa.struct([("a", pa.int32())])),
        "output": pa.array([b"Tides are caused by the moon.", b"x", None], pa.binary()),
        "when": pa.array([0, 1, 2], pa.timestamp("ms")),
        "score": pa.array([1.5, float("nan"), None], pa.float64()),
    })
    pq.write_table(t, root / "odd_types.parquet")
    exp["odd_types.parquet"] = {"records": 3}
    t = pa.table({"instruction": pa.array(["Explain gravity in one sentence.", "What is 2+2?"], pa.large_string()),
                  "output": pa.array(["Gravity pulls masses toward each other.", "2 + 2 equals 4."],
                                     pa.large_string()),
                  "history": pa.array([[{"instruction": "Hi", "output": 5}], None],
                                      pa.list_(pa.struct([("instruction", pa.string()),
                                                          ("output", pa.int64())])))})
    pq.write_table(t, root / "odd_hist.parquet")
    exp["odd_hist.parquet"] = {"records": 2}

    # --- volume: 5k identical records --------------------------------------------------------
    dup = json.dumps(en_record(9_999)) + "\n"
    (root / "dups.jsonl").write_text(dup * 5_000, encoding="utf-8")
    exp["dups.jsonl"] = {"records": 5_000}

    # --- file-system oddities ---------------------------------------------------------------------
    import gzip

    gz = gzip.compress(_jsonl([en_record(next(n)) for _ in range(40)]))
    (root / "cut.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    exp["cut.jsonl.gz"] = {"error": (None, "")}
    name = os.fsdecode(b"bad\xffname.jsonl")  # not UTF-8: reported as "bad\\xffname.jsonl"
    (root / name).write_text(json.dumps(en_record(next(n))) + "\n", encoding="utf-8")
    exp["bad\\xffname.jsonl"] = {"records": 1, "error": None}
    sub = root / "sub"
    sub.mkdir()
    (sub / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop back to the root
    (sub / "again.jsonl").symlink_to(root / "bom8.jsonl")  # the same file under a second name

    # --- plain good data, so the later stages have a population to work on ---------------------
    goods = [en_record(next(n)) for _ in range(60)] + [zh_record(next(n)) for _ in range(60)]
    (root / "good.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in goods),
                                     encoding="utf-8")
    exp["good.jsonl"] = {"records": len(goods), "error": None}
    return exp


# ---------------------------------------------------------------------------------------------
# Output checks
# ---------------------------------------------------------------------------------------------

STAGES = ("ingest", "normalize", "schema", "dedup", "language", "quality", "format", "leak", "decontam",
          "diversity", "refusal", "split")
# Ingest reasons whose detail must start with "line N:" (a text line could not be parsed).
LINE_REASONS = {"ingest_invalid_json", "ingest_undecodable", "ingest_invalid_row"}


def curated_rows(out: Path) -> list[dict]:
    rows: list[dict] = []
    for f in sorted((out / "curated").glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def reject_rows(out: Path) -> list[dict]:
    rows: list[dict] = []
    for f in sorted((out / "rejected").glob("*.jsonl")):
        rows += [json.loads(x) for x in f.read_text(encoding="utf-8").splitlines()]
    return rows


def check_invariants(out: Path) -> tuple[list[dict], list[dict], dict]:
    """Assert DESIGN.md's output invariants on a finished run; return (curated, rejects, manifest).

    Unlike a naive checker it accepts rejects whose ``record`` is not an object: an
    unparseable line is kept as its raw text, a JSON list or number as itself.
    """
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    curated, rejects = curated_rows(out), reject_rows(out)
    c = manifest["counts"]
    read = sum(i["records"] for i in manifest["inputs"])
    injected = sum(r["origin"] == "injected" for r in curated) + sum(
        isinstance(r["record"], dict) and r["record"].get("origin") == "injected" for r in rejects)
    assert c["read"] == read
    assert (c["curated"], c["rejected"], c["injected"]) == (len(curated), len(rejects), injected)
    assert read == len(curated) + len(rejects) - injected
    seen: dict = {}
    for r in curated:
        if r["origin"] != "injected":
            key = (r["source"]["file"], r["source"]["index"])
            seen[key] = seen.get(key, 0) + 1
    for r in rejects:
        assert r["stage"] in STAGES, r["stage"]
        assert r["reason"].startswith(r["stage"] + "_"), (r["stage"], r["reason"])
        assert isinstance(r["detail"], str) and r["detail"].strip(), r
        rec = r["record"]
        if isinstance(rec, dict) and rec.get("origin") == "injected":
            continue
        key = (r["source"]["file"], r["source"]["index"])
        seen[key] = seen.get(key, 0) + 1
    twice = [k for k, v in seen.items() if v != 1]
    assert not twice, twice[:5]
    assert len(seen) == read
    per_file = {i["path"]: i["records"] for i in manifest["inputs"]}
    for f, idx in seen:
        assert 0 <= idx < per_file[f], (f, idx)
    for s in manifest["shards"]:
        assert hashlib.sha256((out / s["path"]).read_bytes()).hexdigest() == s["sha256"]
    return curated, rejects, manifest


def by_file(rows: list[dict], root: Path, name: str) -> dict[int, dict]:
    path = str(root / name)
    return {r["source"]["index"]: r for r in rows if r["source"]["file"] == path}


# ---------------------------------------------------------------------------------------------
# The mixed nasty folder, run once (num_proc=1) and shared
# ---------------------------------------------------------------------------------------------


def _inputs(root: Path) -> list[str]:
    # The folder, plus one of its files named twice more (once through "sub/.."): read once.
    return [str(root), str(root / "good.jsonl"), str(root / "sub" / ".." / "good.jsonl")]


@pytest.fixture(scope="module")
def nasty(tmp_path_factory):
    from pipeline.runner import run

    base = tmp_path_factory.mktemp("nasty")
    root = base / "in"
    exp = build_nasty(root)
    summary = run(_inputs(root), out=base / "out1", num_proc=1, progress=False)
    return root, exp, summary, base / "out1"


@pytest.mark.slow
def test_nasty_folder_finishes_with_exit_2_and_keeps_every_record(nasty):
    root, exp, summary, out = nasty
    assert summary.exit_code == 2  # some input could not be read, the rest was curated
    _curated, _rejects, manifest = check_invariants(out)
    paths = [i["path"] for i in manifest["inputs"]]
    assert len(paths) == len(set(paths)), "a file named twice (or via a symlink) is read once"
    assert not any("/sub/" in p for p in paths), "symlink loop or symlinked copy was walked"
    per_file = {i["path"]: i for i in manifest["inputs"]}
    for name, e in exp.items():
        if "records" in e:
            assert per_file[str(root / name)]["records"] == e["records"], name
    for name in ("gbk.jsonl", "gb18030.json", "gbk.csv"):
        assert per_file[str(root / name)]["encoding"] == "gb18030"
    assert per_file[str(root / "utf16le.json")]["encoding"].startswith("utf-16")
    assert per_file[str(root / "utf16be.jsonl")]["encoding"].startswith("utf-16")
    assert manifest["counts"]["curated"] > 100  # the good records made it through


@pytest.mark.slow
def test_every_bad_file_gets_an_error_naming_file_and_line(nasty):
    root, exp, summary, out = nasty
    errors = json.loads((out / "manifest.json").read_text())["errors"]
    assert summary.errors == errors
    for e in errors:
        assert set(e) == {"file", "line", "message"} and e["message"]
        assert e["file"] in {str(root / n) for n in exp}, e
    for name, e in exp.items():
        mine = [x for x in errors if x["file"] == str(root / name)]
        if "error" not in e:
            continue
        if e["error"] is None:
            assert not mine, mine
            continue
        line, text = e["error"]
        assert mine, f"{name}: no file error reported"
        assert any(text.lower() in x["message"].lower() for x in mine), (name, mine)
        if line is not None:
            assert mine[0]["line"] == line, (name, mine)


@pytest.mark.slow
def test_ingest_rejects_carry_reason_and_line(nasty):
    root, exp, _summary, out = nasty
    rejects = reject_rows(out)
    for r in rejects:
        if r["reason"] in LINE_REASONS and not r["source"]["file"].endswith(".parquet"):
            assert r["detail"].startswith("line "), r["detail"]
    for name, e in exp.items():
        if "reasons" not in e:
            continue
        got: dict[str, int] = {}
        for r in by_file(rejects, root, name).values():
            if r["stage"] == "ingest":
                got[r["reason"]] = got.get(r["reason"], 0) + 1
        assert got == e["reasons"], name


@pytest.mark.slow
def test_wrong_types_everywhere_are_rejected_with_the_field_named(nasty):
    root, exp, _summary, out = nasty
    rejects, curated = reject_rows(out), curated_rows(out)
    for name in ("types.jsonl", "types_sharegpt.json", "types_openai.jsonl"):
        rej = by_file(rejects, root, name)
        for idx, field in exp[name]["must_fail"].items():
            assert idx in rej, f"{name}#{idx} was not rejected"
            r = rej[idx]
            assert r["stage"] == "ingest" and r["reason"] in {
                "ingest_wrong_type", "ingest_preference_record", "ingest_missing_field",
                "ingest_roles_not_alternating", "ingest_tool_turn", "ingest_unknown_role"}, r
            assert field in r["detail"], (name, idx, r["detail"])
        for idx in exp[name]["must_pass"]:
            assert idx not in rej or rej[idx]["stage"] != "ingest", (name, idx, rej.get(idx))
    # `"history": false` is a wrong type, not "no history".
    rej = by_file(rejects, root, "types.jsonl")
    false_hist = 33 + 3  # the history block starts at 33; bad_values[3] is False
    assert rej[false_hist]["reason"] == "ingest_wrong_type" and "bool" in rej[false_hist]["detail"]
    # Parquet with odd column types: ints, structs, nulls, binary, timestamps, NaN.
    rej = by_file(rejects, root, "odd_int.parquet")
    assert [rej[i]["reason"] for i in range(3)] == ["ingest_wrong_type"] * 3
    assert all("instruction" in rej[i]["detail"] for i in range(3))
    rej = by_file(rejects, root, "odd_types.parquet")
    assert [(rej[i]["reason"], rej[i]["detail"].split("'")[1]) for i in range(3)] == [
        ("ingest_wrong_type", "input"), ("ingest_wrong_type", "instruction"), ("ingest_wrong_type", "output")]
    rej = by_file(rejects, root, "odd_hist.parquet")
    assert rej[0]["reason"] == "ingest_wrong_type" and "history" in rej[0]["detail"]
    assert 1 in by_file(curated, root, "odd_hist.parquet")


@pytest.mark.slow
def test_odd_text_survives_or_gets_a_reason(nasty):
    root, _exp, _summary, out = nasty
    curated, rejects = curated_rows(out), reject_rows(out)

    def text_of(name: str, i: int) -> dict:
        """The normalised record wherever it ended up (rejects past ingest hold the canonical record)."""
        cur = by_file(curated, root, name)
        if i in cur:
            return cur[i]
        r = by_file(rejects, root, name)[i]
        assert r["stage"] != "ingest", r
        return r["record"]

    assert text_of("gb18030.json", 1)["output"].endswith("𠀀𠀁 😀 €"), "4-byte GB18030 characters decode"
    assert all("请用一段简短的话" in text_of("gbk.jsonl", i)["instruction"] for i in range(3))
    assert text_of("gbk.csv", 0)["output"] == "红色、黄色和蓝色。"
    assert text_of("utf16be.jsonl", 1)["instruction"].startswith("请用")
    odd_c, odd_r = by_file(curated, root, "oddtext.jsonl"), by_file(rejects, root, "oddtext.jsonl")
    assert set(odd_c) | set(odd_r) == set(range(22)) and not set(odd_c) & set(odd_r)
    # Bidi override controls are stripped, the Arabic text is kept.
    assert "\u202e" not in text_of("oddtext.jsonl", 0)["instruction"]
    assert "مرحبا" in text_of("oddtext.jsonl", 0)["instruction"]
    # Emoji ZWJ sequences keep their joiners (one family, not four people); stray ones go.
    assert "👨\u200d👩\u200d👧\u200d👦" in text_of("oddtext.jsonl", 3)["instruction"]
    assert text_of("oddtext.jsonl", 2)["instruction"].startswith("Zerowidthjoinerseverywhere")
    assert text_of("oddtext.jsonl", 4)["instruction"].startswith("Normalise caf\u00e9 ")  # NFC
    for i in (9, 10):  # zero-width-only and whitespace-only instructions
        assert odd_r[i]["reason"] == "schema_empty_field" and "instruction" in odd_r[i]["detail"]
    # The escaped \u0000 in a valid JSON string is stripped by normalize, not fatal.
    assert "\x00" not in text_of("nul.jsonl", 0)["output"]
    for r in curated:
        for f in ("instruction", "output", "input", "system"):
            assert "\x00" not in r[f] and "\ufeff" not in r[f] and "\u200b" not in r[f]
    # A non-UTF-8 file name is reported in escaped form, and its record is read.
    assert text_of("bad\\xffname.jsonl", 0)["instruction"].startswith("Explain")


@pytest.mark.slow
def test_5k_duplicates_keep_one_and_name_it(nasty):
    root, _exp, _summary, out = nasty
    dup_c = by_file(curated_rows(out), root, "dups.jsonl")
    dup_r = by_file(reject_rows(out), root, "dups.jsonl")
    assert len(dup_c) + len(dup_r) == 5_000
    exact = {i: r for i, r in dup_r.items() if r["reason"] == "dedup_exact"}
    assert len(exact) == 4_999
    (first,) = set(range(5_000)) - set(exact)  # the one copy kept: curated, or dropped later for a reason
    kept = dup_c[first] if first in dup_c else dup_r[first]["record"]
    assert {r["duplicate_of"] for r in exact.values()} == {kept["id"]}
    assert {r["record"]["id"] for r in exact.values()} == {kept["id"]}


# ---------------------------------------------------------------------------------------------
# Determinism: num_proc 1 vs 2 on the same nasty folder
# ---------------------------------------------------------------------------------------------


def _fingerprint(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("timings")
    return {
        "manifest": manifest,
        "shards": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "curated").iterdir())},
        "rejects": {p.name: p.read_bytes() for p in sorted((out / "rejected").iterdir())},
    }


@pytest.mark.slow
def test_num_proc_1_and_2_give_identical_outputs(nasty, tmp_path):
    from pipeline.runner import run

    root, _exp, _summary, out1 = nasty
    # The 5k duplicates make the table large enough (>= 2 batches) for two workers to be used.
    s2 = run(_inputs(root), out=tmp_path / "out2", num_proc=2, progress=False)
    assert s2.exit_code == 2
    a, b = _fingerprint(out1), _fingerprint(tmp_path / "out2")
    assert a["shards"] == b["shards"]
    assert a["rejects"].keys() == b["rejects"].keys()
    for name in a["rejects"]:
        assert a["rejects"][name] == b["rejects"][name], name
    assert a["manifest"] == b["manifest"]


# ---------------------------------------------------------------------------------------------
# 10 MB fields through the full recipe
# ---------------------------------------------------------------------------------------------


def _words(n_chars: int, seed: int) -> str:
    rng = random.Random(seed)
    vocab = ["the", "of", "sea", "river", "mountain", "light", "data", "model", "record", "value", "system",
             "people", "water", "city", "history", "north", "south", "bridge", "garden", "winter"]
    out, size = [], 0
    while size < n_chars:
        w = rng.choice(vocab)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


@pytest.mark.slow
def test_10mb_output_and_10mb_instruction(tmp_path):
    """A 10 MB output and a 10 MB instruction go through every stage without error or blow-up
    (this found an intent regex that cost 13 s per MB of instruction in the leak stage)."""
    from pipeline.runner import run

    big = _words(BIG_MB * 1_000_000, 1)
    recs = [en_record(i) for i in range(12)] + [zh_record(i) for i in range(12)]
    recs += [{"instruction": "Write a very long essay about rivers.", "input": "", "output": big},
             {"instruction": big, "input": "", "output": "That was a very long prompt."}]
    src = tmp_path / "big.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    out = tmp_path / "out"
    summary = run([str(src)], out=out, progress=False)
    assert summary.exit_code == 0 and summary.errors == []
    curated, rejects, _manifest = check_invariants(out)
    fates = {**{r["source"]["index"]: r for r in curated if r["origin"] == "raw"},
             **{r["source"]["index"]: r for r in rejects}}
    for i in (len(recs) - 2, len(recs) - 1):  # each huge record is curated intact, or rejected with a reason
        r = fates[i]
        if "reason" in r:
            assert r["reason"] and r["detail"]
        else:
            assert len(r["output"]) + len(r["instruction"]) >= BIG_MB * 1_000_000
    if CHECK.exists():  # the shared checker, when this checkout has it
        res = subprocess.run([sys.executable, str(CHECK), str(out)], capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout + res.stderr


# ---------------------------------------------------------------------------------------------
# The CLI: exit codes, messages, no tracebacks
# ---------------------------------------------------------------------------------------------


def _cli(args: list[str]):
    from click.testing import CliRunner

    from pipeline.cli import main

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps stderr apart
        runner = CliRunner()
    res = runner.invoke(main, ["run", *args, "--quiet"])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"traceback for a user error: {res.exception!r}") from res.exception
    return res


def test_cli_missing_input_exits_1_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = _cli([str(tmp_path / "nope.jsonl"), "--out", str(out)])
    assert res.exit_code == 1
    assert "error:" in res.stderr and "nope.jsonl" in res.stderr and "Traceback" not in res.stderr
    assert not out.exists()


def test_cli_folder_with_no_known_files_exits_1(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("not an input", encoding="utf-8")
    res = _cli([str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "no readable input" in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, says", [(b"- a\n- b\n", "recipe.yaml"), (b"key: [unclosed\n", "recipe.yaml"),
                                           (b"stages: [normalize, nosuch]\nseed: x\n", "nosuch")])
def test_cli_bad_config_exits_1_before_any_work(tmp_path, content, says):
    cfg = tmp_path / "recipe.yaml"
    cfg.write_bytes(content)
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(en_record(0)) + "\n", encoding="utf-8")
    res = _cli([str(src), "--config", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "invalid config" in res.stderr and says in res.stderr
    assert not (tmp_path / "out").exists()


def test_cli_binary_config_exits_1_without_traceback(tmp_path):
    cfg = tmp_path / "recipe.yaml"
    cfg.write_bytes(random.Random(5).randbytes(300).replace(b"\n", b"\xd0"))
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(en_record(0)) + "\n", encoding="utf-8")
    res = _cli([str(src), "--config", str(cfg), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and str(cfg) in res.stderr


def test_cli_unreadable_eval_sets_fail_up_front_listing_each(tmp_path):
    ev = tmp_path / "evals"
    ev.mkdir()
    (ev / "deep.json").write_text("[" * 5_000 + "]" * 5_000, encoding="utf-8")
    (ev / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(en_record(0)) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    res = _cli([str(src), "--eval-sets", str(ev), "--out", str(out)])
    assert res.exit_code == 1
    assert "deep.json" in res.stderr and "broken.parquet" in res.stderr
    assert not out.exists(), "eval sets are read before any work starts"


def test_eval_set_in_gbk_is_read(tmp_path):
    from pipeline.decontam.evalsets import read_rows

    f = tmp_path / "ceval.csv"
    f.write_bytes("question,A,B\n下列哪一项是光合作用的产物？,氧气,氮气\n".encode("gbk"))
    assert read_rows(f) == [{"question": "下列哪一项是光合作用的产物？", "a": "氧气", "b": "氮气"}]


@pytest.mark.slow
def test_cli_mixed_folder_exits_2_and_lists_bad_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "good.jsonl").write_text("".join(json.dumps(zh_record(i), ensure_ascii=False) + "\n" for i in range(8))
                                    + "".join(json.dumps(en_record(i)) + "\n" for i in range(8)), encoding="utf-8")
    (src / "broken.jsonl").write_text(json.dumps(en_record(50)) + "\n{\"instruction\": \n", encoding="utf-8")
    (src / "empty.json").write_bytes(b"")
    out = tmp_path / "out"
    res = _cli([str(src), "--out", str(out), "--num-proc", "2"])
    assert res.exit_code == 2, res.stderr
    assert f"input error: {src / 'broken.jsonl'}:2:" in res.stderr
    assert f"input error: {src / 'empty.json'}: empty file" in res.stderr
    assert "Traceback" not in res.stderr
    check_invariants(out)


def test_cli_only_unreadable_files_is_no_readable_input(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "empty.jsonl").write_bytes(b"")
    (src / "notjson.json").write_text("hello", encoding="utf-8")
    res = _cli([str(src), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "no readable input" in res.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_unreadable_file_is_an_input_error(tmp_path):
    import os as _os

    src = tmp_path / "in"
    src.mkdir()
    (src / "good.jsonl").write_text(json.dumps(en_record(1)) + "\n", encoding="utf-8")
    locked = src / "locked.jsonl"
    locked.write_text(json.dumps(en_record(2)) + "\n", encoding="utf-8")
    locked.chmod(0)
    try:
        if _os.access(locked, _os.R_OK):
            pytest.skip("running as root: file permissions do not stop reads")
        from pipeline.io.readers import read_file

        report, items = read_file(str(locked))
        assert list(items) == [] and report.records == 0
        assert report.errors and "cannot read" in report.errors[0].message
        assert report.errors[0].file == str(locked)
    finally:
        locked.chmod(0o644)
