"""The one-screen summary printed at the end of ``sftpipe run``."""
from __future__ import annotations

import click


def print_summary(summary) -> None:
    """Counts, the top reasons and where the outputs are."""
    c = summary.counts
    click.echo("")
    click.echo(f"read {c['read']}  curated {c['curated']}  rejected {c['rejected']}  injected {c['injected']}")
    reasons = [(n, stage, r) for stage, rs in c["by_stage"].items() for r, n in rs.items()]
    flags = [(n, stage, r) for stage, rs in c.get("flagged", {}).items() for r, n in rs.items()]
    if reasons:
        click.echo("top drop reasons:")
        for n, stage, r in sorted(reasons, key=lambda x: (-x[0], x[2]))[:8]:
            click.echo(f"  {n:>8}  {r}")
    if flags:
        click.echo("top flags:")
        for n, stage, r in sorted(flags, key=lambda x: (-x[0], x[2]))[:5]:
            click.echo(f"  {n:>8}  {r}")
    out = summary.out
    click.echo(f"curated shards: {out / 'curated'}")
    click.echo(f"rejects:        {out / 'rejected'}")
    click.echo(f"report:         {out / 'report' / 'report.html'}")
    click.echo(f"manifest:       {out / 'manifest.json'}")
    if summary.errors:
        click.echo(f"{len(summary.errors)} input problem(s); see manifest.json 'errors' (exit code 2)")
