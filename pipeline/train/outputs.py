"""What a run leaves behind besides metrics: weights, the template contract, the model
card, the rendered examples and the per-record losses that go back to curation."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.train.data import Example, render_marked

CONTRACT = "template_contract.json"


def save_weights(model, tokenizer, out: Path, method: str) -> None:
    """PEFT methods: ``adapter_config.json`` + ``adapter_model.safetensors``; full/bitfit: the whole model."""
    model.save_pretrained(out)  # safetensors is the default in both peft and transformers
    tokenizer.save_pretrained(out)


def template_contract(tokenizer, name: str, template: str, golden: Example, eot_ids: set[int]) -> dict:
    """The exact training template, its special tokens and one golden rendering.

    Inference must render prompts the same way; comparing an inference template
    against this file (and the golden ids) catches a silent template mismatch.
    """
    return {
        "template_name": name, "chat_template": template,
        "special_tokens": {k: v for k, v in tokenizer.special_tokens_map.items()},
        "end_of_turn_ids": sorted(eot_ids),
        "eos_token": tokenizer.eos_token, "eos_token_id": tokenizer.eos_token_id,
        "golden": {"record_id": golden.rid, "input_ids": golden.input_ids, "labels": golden.labels,
                   "text": tokenizer.decode(golden.input_ids), "marked": render_marked(tokenizer, golden)},
    }


def write_examples(tokenizer, examples: list[Example], folder: Path) -> list[str]:
    """One rendered example per task tag, supervised tokens in ``[[...]]``; returns the task tags."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Example] = {}
    for ex in examples:
        seen.setdefault(ex.tags.get("task") or "untagged", ex)
    for task, ex in sorted(seen.items()):
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in task)
        (folder / f"{safe}.txt").write_text(
            f"# record {ex.rid}  task={task}  lang={ex.tags.get('lang')}\n"
            "# [[...]] marks supervised tokens; everything else is masked (-100)\n\n"
            + render_marked(tokenizer, ex) + "\n", encoding="utf-8")
    return sorted(seen)


def write_record_losses(path: Path, parts: list[tuple[str, list[Example], dict]]) -> int:
    """``record_losses.parquet``: id, split, task, lang, origin, loss, tokens per record.

    Args:
        parts: ``(split, examples, {example_index: (loss_sum, tokens)})`` triples.
    """
    import io

    import pyarrow as pa
    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    # Rows go through Arrow's JSON reader with an explicit schema rather than
    # pa.Table.from_pylist: building arrays from Python objects makes pyarrow import
    # pandas (~45 MB of resident memory), which would set the run's peak RSS at its
    # very end. json.dumps writes floats with repr, so losses round-trip exactly.
    schema = pa.schema([("id", pa.string()), ("split", pa.string()), ("task", pa.string()),
                        ("lang", pa.string()), ("origin", pa.string()), ("loss", pa.float64()),
                        ("tokens", pa.int64())])
    buf, n_rows = io.BytesIO(), 0
    for split, examples, per_rec in parts:
        for idx, (s, n) in sorted(per_rec.items()):
            ex = examples[idx]
            row = {"id": ex.rid, "split": split, "task": ex.tags.get("task", ""),
                   "lang": ex.tags.get("lang", ""), "origin": ex.tags.get("origin", ""),
                   "loss": s / n if n else None, "tokens": n}
            buf.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
            n_rows += 1
    if n_rows:
        buf.seek(0)
        table = pa_json.read_json(buf, parse_options=pa_json.ParseOptions(explicit_schema=schema))
    else:
        table = schema.empty_table()
    pq.write_table(table, path)
    return n_rows


def read_manifest(data_dir: Path | None) -> dict:
    """``DATA/manifest.json`` or {} when absent/unreadable (the card then says so)."""
    if data_dir is None:
        return {}
    try:
        return json.loads((Path(data_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_card(cfg: dict, manifest: dict, summary: dict, base: str, template_name: str) -> str:
    """The run's ``README.md``: base model, method, data provenance and results."""
    counts = manifest.get("counts") or {}
    data_lines = (
        f"- config hash: `{manifest.get('config_hash', 'unknown')}`\n"
        + "".join(f"- {k}: {counts.get(k, 'unknown')}\n" for k in ("read", "curated", "rejected", "injected"))
        if manifest else "- no manifest.json found next to the data; provenance unknown\n"
    )
    results = "\n".join(f"- {k}: {v}" for k, v in summary.items() if not isinstance(v, (dict, list)))
    return (
        f"# Fine-tuned adapter ({cfg['method']})\n\n"
        f"Trained with `sftpipe train` on curated shards.\n\n"
        f"## Base model\n\n- `{base}`\n- method: {cfg['method']}, objective: {cfg['objective']}\n"
        f"- chat template: {template_name} (exact text in `{CONTRACT}`)\n\n"
        f"## Data (curation manifest)\n\n{data_lines}\n"
        f"## Results\n\n{results}\n\n"
        "Per-step metrics are in `metrics.jsonl`; per-record losses in `record_losses.parquet`; "
        "the resolved config in `train_config.json`.\n"
    )
