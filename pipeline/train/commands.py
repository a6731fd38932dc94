"""``sftpipe train`` and ``sftpipe merge``: thin click shells over :mod:`pipeline.train.api`.

The lead attaches them to the ``sftpipe`` group with ``cli.add_command(train_cmd)``.
"""
from __future__ import annotations

import sys

import click

from pipeline.errors import SftpipeError


def _fail(e: SftpipeError) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(e.exit_code)


@click.command("train")
@click.option("--data", required=True, type=click.Path(exists=True), help="Curation output dir (curated/*.parquet).")
@click.option("--model", required=True, help="Base model: local path (or hub id).")
@click.option("--out", required=True, type=click.Path(), help="Run folder for the adapter and metrics.")
@click.option("--method", type=click.Choice(["lora", "qlora", "dora", "full", "bitfit", "prompt", "prefix"]))
@click.option("--config", "config", help="Recipe YAML, or a name under rules/train/ (lora, qlora, full).")
@click.option("--max-steps", type=int)
@click.option("--epochs", type=float)
@click.option("--resume", is_flag=True,
              help="Continue from OUT/checkpoints/last (same data, model and options, or it refuses).")
@click.option("--objective", type=click.Choice(["sft", "cpt"]))
@click.option("--mix", multiple=True, help="PATH:RATIO replay data (origin=mixed); repeatable.")
@click.option("--probe", help="Held-out general set; reports the forgetting delta.")
@click.option("--template", help="auto, chatml, llama3, qwen2 or alpaca.")
@click.option("--max-seq-len", type=int)
@click.option("--truncation", type=click.Choice(["drop", "truncate_prompt", "keep"]))
@click.option("--lr", type=float)
@click.option("--final", type=click.Choice(["last", "best"]),
              help="Save the last weights or the best-validation ones (checkpoints/best).")
@click.option("--stop-at", type=int, help="Stop after N steps with a checkpoint (resume later).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_cmd(data, model, out, method, config, max_steps, epochs, resume, objective, mix, probe, template,
              max_seq_len, truncation, lr, final, stop_at, quiet):
    """Fine-tune MODEL on the curated shards in DATA (LoRA by default)."""
    from pipeline.train.api import train
    overrides = {"max_seq_len": max_seq_len, "truncation": truncation, "lr": lr, "final": final,
                 "progress": False if quiet else None}
    try:
        summary = train(data, model, out, method=method, config=config, max_steps=max_steps, epochs=epochs,
                        resume=resume, objective=objective, mix=list(mix), probe=probe, template=template,
                        overrides={k: v for k, v in overrides.items() if v is not None}, stop_at=stop_at)
    except SftpipeError as e:
        _fail(e)
    if summary.get("event") != "end":
        click.echo(f"stopped at step {summary['steps']}/{summary['total_steps']}; "
                   f"continue with --resume (checkpoint in {out}/checkpoints/last)")
        return
    click.echo(f"trained {summary['method']} for {summary['steps']} steps: train loss {summary['train_loss']}, "
               f"val loss {summary['val_loss']}")
    if "forgetting_delta" in summary:
        click.echo(f"forgetting probe: {summary['probe_before']} -> {summary['probe_after']} "
                   f"(delta {summary['forgetting_delta']:+})")
    click.echo(f"adapter and run files: {out}")


@click.command("merge")
@click.option("--adapter", required=True, type=click.Path(exists=True), help="A LoRA/DoRA/QLoRA run folder.")
@click.option("--out", required=True, type=click.Path(), help="Where to save the merged model.")
@click.option("--base", help="Base model path (default: the one recorded in the adapter).")
@click.option("--atol", type=float, default=1e-4, show_default=True, help="Allowed logit difference.")
def merge_cmd(adapter, out, base, atol):
    """Merge an adapter into its base weights (QLoRA: dequantise, then merge) and verify logits."""
    from pipeline.train.api import merge
    try:
        report = merge(adapter, out, base=base, atol=atol)
    except SftpipeError as e:
        _fail(e)
    click.echo(f"merged model saved to {report['out']}")
