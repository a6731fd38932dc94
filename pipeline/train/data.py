"""Curated shards -> token ids, labels and the token-budget audit.

Tokenisation here is *exactly* what training uses: each rendered segment (see
:mod:`pipeline.train.templates`) is tokenised on its own and the ids concatenated, so
the audit, the lint and the loop all see the same tokens. ``targets`` are the labels
already shifted by one inside each record, so packing several records into one row can
never make the last token of one record predict the first token of the next.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.record import to_messages
from pipeline.train.templates import end_of_turn_ids, render_segments

IGNORE = -100


@dataclass
class Example:
    """One tokenised record.

    Attributes:
        input_ids: Token ids.
        labels: ``input_ids`` where supervised, :data:`IGNORE` elsewhere.
        rid: Record id (for per-record losses).
        tags: ``{"task": ..., "lang": ..., "origin": ...}``.
        answer_tokens: Supervisable tokens of the final answer (content + end-of-turn).
        answer_start: Index of the first token of the final answer.
    """

    input_ids: list[int]
    labels: list[int]
    rid: str = ""
    tags: dict = field(default_factory=dict)
    answer_tokens: int = 0
    answer_start: int = 0

    @property
    def targets(self) -> list[int]:
        """Next-token targets: ``labels`` shifted left by one, ignoring past the record end."""
        return self.labels[1:] + [IGNORE]

    @property
    def n_supervised(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)

    def release_tokens(self) -> None:
        """Drop the token lists once they are packed into rows; ``rid`` and ``tags`` stay.

        Python lists of ids cost ~36 bytes a token; after :func:`pipeline.train.packing.pack`
        has copied them into compact rows, only the identity of the record is still needed.
        """
        self.input_ids, self.labels = [], []


def read_records(path: Path | str) -> list[dict]:
    """Read records from a Parquet file, a JSONL/JSON file, a ``.txt`` file or a directory of them.

    ``.txt`` files become one ``{"text": ...}`` record per blank-line separated paragraph.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in (".parquet", ".jsonl", ".json", ".txt"))
        return [r for f in files for r in read_records(f)]
    if not p.exists():
        raise InputError(str(p), "file not found")
    if p.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.read_table(p).to_pylist()
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".txt":
        return [{"text": para.strip()} for para in text.split("\n\n") if para.strip()]
    if p.suffix == ".json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputError(str(p), f"invalid JSON: {e.msg}", line=i) from None
    return out


# The only shard columns training reads; the rest (scores, meta, flags, ...) never leave disk.
TRAIN_COLUMNS = ("id", "messages", "system", "instruction", "input", "output", "history", "text",
                 "task", "lang", "origin")


def split_files(data_dir: Path | str, split: str) -> list[Path]:
    """``DATA/curated/<split>-*.parquet`` in shard order."""
    return sorted((Path(data_dir) / "curated").glob(f"{split}-*.parquet"))


def iter_split(data_dir: Path | str, split: str, batch_size: int = 512) -> Iterator[dict]:
    """Stream the rows of a split, a record batch at a time, reading only :data:`TRAIN_COLUMNS`.

    Encoding straight from this iterator means the raw records of a large split are
    never all in memory at once, only their (much smaller) token ids.
    """
    import pyarrow.parquet as pq
    for f in split_files(data_dir, split):
        pf = pq.ParquetFile(f)
        cols = [c for c in TRAIN_COLUMNS if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            yield from batch.to_pylist()


def load_split(data_dir: Path | str, split: str) -> list[dict]:
    """Rows of ``DATA/curated/<split>-*.parquet`` in shard order ([] when there are none)."""
    return list(iter_split(data_dir, split))


def messages_of(rec: dict) -> list[dict]:
    """The record's OpenAI messages: the shard's ``messages`` column, else built from canonical fields."""
    msgs = rec.get("messages")
    if msgs:
        return [{"role": m["role"], "content": m["content"]} for m in msgs]
    if "instruction" in rec or "output" in rec:
        full = {"system": "", "history": [], "input": "", **rec}
        return to_messages(full)
    raise ValueError("record has neither messages nor instruction/output")


def tags_of(rec: dict) -> dict:
    return {"task": rec.get("task") or "", "lang": rec.get("lang") or "", "origin": rec.get("origin") or "raw"}


def encode_sft(rec: dict, tokenizer, template: str, supervise: str = "all") -> Example:
    """Tokenise one conversation with loss on assistant tokens only.

    Inside each assistant segment, supervision runs up to and including the last
    end-of-turn token; whatever the template writes after it (a newline) is context,
    because the model stops generating at the end-of-turn token.

    Args:
        rec: A curated row (or any mapping with ``messages`` or instruction/output).
        tokenizer: HF tokenizer.
        template: Jinja chat template source.
        supervise: ``"all"`` assistant turns or only the ``"last"`` one.
    """
    eot = end_of_turn_ids(tokenizer)
    ids: list[int] = []
    labels: list[int] = []
    answer, answer_start = 0, 0
    for seg in render_segments(tokenizer, template, messages_of(rec)):
        seg_ids = tokenizer(seg.text, add_special_tokens=False)["input_ids"]
        train = seg.assistant and (supervise == "all" or seg.last)
        stop = len(seg_ids)
        if seg.assistant:
            ends = [i for i, t in enumerate(seg_ids) if t in eot]
            stop = ends[-1] + 1 if ends else len(seg_ids)
            if seg.last:
                answer, answer_start = stop, len(ids)
        ids += seg_ids
        labels += [t if train and i < stop else IGNORE for i, t in enumerate(seg_ids)]
    return Example(ids, labels, rid=str(rec.get("id", "")), tags=tags_of(rec), answer_tokens=answer,
                   answer_start=answer_start)


def encode_text(rec: dict, tokenizer) -> Example:
    """Continued pretraining: loss on every token of ``text`` (or the record's conversation), then EOS."""
    text = rec.get("text")
    if text is None:
        text = "\n".join(m["content"] for m in messages_of(rec))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return Example(ids, list(ids), rid=str(rec.get("id", "")), tags=tags_of(rec), answer_tokens=len(ids))


def render_marked(tokenizer, ex: Example) -> str:
    """Human-readable rendering: supervised tokens in ``[[...]]``, masked ones plain."""
    out, run, in_sup = [], [], False
    for tid, lab in zip(ex.input_ids, ex.labels):
        sup = lab != IGNORE
        if sup != in_sup and run:
            text = tokenizer.decode(run)
            out.append(f"[[{text}]]" if in_sup else text)
            run = []
        in_sup = sup
        run.append(tid)
    if run:
        text = tokenizer.decode(run)
        out.append(f"[[{text}]]" if in_sup else text)
    return "".join(out)
