"""The ``sftpipe`` command line: a thin shell over the library calls."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.errors import SftpipeError


def _fail(err: SftpipeError) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(err.exit_code)


def _field_map(pairs: tuple[str, ...]) -> dict | None:
    if not pairs:
        return None
    out = {}
    for p in pairs:
        if "=" not in p:
            raise click.BadParameter(f"{p!r}: expected CANONICAL=COLUMN, e.g. output=completion")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# Options that, as in the CLI contract, take every following non-option word:
# `sftpipe run data/ --eval-sets gsm8k.jsonl mmlu.csv`.
GREEDY = ("--eval-sets",)


def spread_greedy(args: list[str]) -> list[str]:
    """Rewrite ``--opt A B C`` into ``--opt A --opt B --opt C`` for the options in GREEDY."""
    out: list[str] = []
    opt = None
    for a in args:
        if a.startswith("-"):
            opt = a if a in GREEDY else None
            out.append(a)
        elif opt and out[-1] != opt:
            out += [opt, a]
        else:
            out.append(a)
    return out


class Cli(click.Group):
    """The command group; spreads greedy options before click parses them."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, spread_greedy(list(args)))


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sftpipe")
def main() -> None:
    """sftpipe: curate instruction data into training-ready shards, a report and adapters."""


@main.command()
@click.argument("inputs", nargs=-1)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Recipe YAML over rules/default.yaml.")
@click.option("--out", default="out", show_default=True, type=click.Path(file_okay=False))
@click.option("--num-proc", default=1, show_default=True, type=click.IntRange(1, 256))
@click.option("--seed", type=int, help="Overrides the recipe seed.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--ray-address", default=None, help="Ray cluster address (with --engine ray).")
@click.option("--resume", is_flag=True, help="Continue after the stages a previous run finished.")
@click.option("--only", default=None, help="Comma-separated stages to run after ingest.")
@click.option("--eval-sets", "eval_sets", multiple=True,
              help="Evaluation sets (files or folders) for decontamination; takes every following path.")
@click.option("--format", "output_format", multiple=True, type=click.Choice(["parquet", "jsonl"]),
              help="Curated shard format(s); parquet by default.")
@click.option("--input-format", default=None, help="Force an input format (alpaca, sharegpt, openai, ...).")
@click.option("--field-map", "field_map", multiple=True, help="CANONICAL=COLUMN, e.g. output=completion.")
@click.option("--val-ratio", type=float, default=None, help="Validation share (overrides the recipe).")
@click.option("--quiet", is_flag=True, help="No progress bars and no summary.")
@click.option("--log-json", is_flag=True, help="Machine-readable events on stderr, one JSON per line.")
def run(inputs, config_path, out, num_proc, seed, engine, ray_address, resume, only, eval_sets, output_format,
        input_format, field_map, val_ratio, quiet, log_json):
    """Run the recipe on INPUTS (files, folders, globs; default: sample_data/)."""
    from pipeline.runner import run as run_pipeline
    from pipeline.summary import print_summary

    log = (lambda e: click.echo(json.dumps(e, ensure_ascii=False), err=True)) if log_json else None
    kwargs = dict(config=config_path, out=out, num_proc=num_proc, seed=seed, resume=resume,
                  only=[s.strip() for s in only.split(",") if s.strip()] if only else None,
                  eval_sets=list(eval_sets), input_format=input_format, field_map=_field_map(field_map),
                  val_ratio=val_ratio, output_format=list(output_format) or None,
                  progress=not quiet and not log_json, log=log)
    try:
        if engine == "ray":
            from pipeline.engines.ray import run as run_ray

            summary = run_ray(list(inputs), ray_address=ray_address, **kwargs)
        else:
            summary = run_pipeline(list(inputs), **kwargs)
    except SftpipeError as e:
        _fail(e)
    for e in summary.errors:
        where = f"{e['file']}:{e['line']}" if e.get("line") else e["file"]
        click.echo(f"input error: {where}: {e['message']}", err=True)
    if not quiet and not log_json:
        print_summary(summary)
    sys.exit(summary.exit_code)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per problem.")
@click.option("--input-format", default=None)
@click.option("--field-map", "field_map", multiple=True)
def validate(inputs, as_json, input_format, field_map):
    """Check INPUTS against the record schema; print every bad record. Exit 1 when any."""
    from pipeline.validate import validate_inputs

    n = 0
    try:
        for problem in validate_inputs(list(inputs), input_format, _field_map(field_map)):
            n += 1
            if as_json:
                click.echo(json.dumps(problem, ensure_ascii=False))
            else:
                where = f"{problem['file']}#{problem['index']}" if "index" in problem else \
                    f"{problem['file']}:{problem.get('line') or ''}"
                click.echo(f"{where}: {problem['reason']}: {problem['detail']}")
    except SftpipeError as e:
        _fail(e)
    if not as_json:
        click.echo(f"{n} problem(s)" if n else "all records valid", err=True)
    sys.exit(1 if n else 0)


@main.command()
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--compare", "other", type=click.Path(exists=True, file_okay=False), help="Another run to compare.")
@click.option("--num-proc", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes reading the curated shards (the report is the same for any value).")
def report(out_dir, other, num_proc):
    """(Re)build the report of a finished run, optionally compared with OTHER run."""
    from pipeline.report import write_report

    try:
        if other:
            from pipeline.report.compare import write_comparison

            path = write_comparison(Path(out_dir), Path(other))
        else:
            write_report(Path(out_dir), num_proc=num_proc)
            path = Path(out_dir) / "report"
    except FileNotFoundError as e:
        _fail(SftpipeError(f"{e.filename}: not found; is {out_dir} a finished run folder?"))
    click.echo(f"report: {path}")


@main.command("stages")
def stages_cmd():
    """List the registered stages."""
    from pipeline import registry

    for name in registry.names():
        click.echo(name)


def _attach_optional() -> None:
    # Commands that live beside their library code; missing ones simply don't appear.
    for mod, attr in (("pipeline.train.commands", "train_cmd"), ("pipeline.train.commands", "merge_cmd"),
                      ("pipeline.calibrate", "calibrate_cmd")):
        try:
            module = __import__(mod, fromlist=[attr])
        except ImportError:
            continue
        cmd = getattr(module, attr, None)
        if cmd is not None:
            main.add_command(cmd)


_attach_optional()
