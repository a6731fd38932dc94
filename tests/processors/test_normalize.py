from pipeline.processors.normalize import Normalize, normalize_text
from pipeline.record import from_rows, new_record


def test_nfc_zero_width_controls_newlines():
    assert normalize_text("Cafe\u0301") == "Café"
    assert normalize_text("a\u200bb\u200dc\ufeff") == "abc"
    assert normalize_text("a\x00b\x07c") == "abc"
    assert normalize_text("line1\r\nline2\rline3\u2028line4") == "line1\nline2\nline3\nline4"
    assert normalize_text("  keep\ttabs  \n  and trailing   \n") == "keep\ttabs\n  and trailing"


def test_full_width_chinese_punctuation_is_kept():
    # NFKC would turn these into ASCII; we must not.
    assert normalize_text("你好，世界！（测试）：１２３") == "你好，世界！（测试）：１２３"


def test_process_normalises_history_and_recomputes_id():
    rec = new_record(instruction="Hi\u200b", output="Hello\r\n", history=[{"instruction": " a ", "output": "b\x00"}])
    clean = new_record(instruction="Hi", output="Hello", history=[{"instruction": "a", "output": "b"}])
    out, verdicts = Normalize().process(from_rows([rec]))
    assert out["instruction"] == ["Hi"] and out["output"] == ["Hello"]
    assert out["history"] == [[{"instruction": "a", "output": "b"}]]
    assert out["id"] == [clean["id"]] != [rec["id"]]
    assert verdicts[0].keep
