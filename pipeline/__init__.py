"""sftpipe: curate English and Chinese instruction data into training-ready shards.

The library API mirrors the CLI: ``pipeline.run(inputs, config=..., out=...)`` returns
a run summary; ``pipeline.train(...)`` trains an adapter on the curated shards.
"""
__version__ = "0.1.0"


def run(*args, **kwargs):
    """Curate inputs; see :func:`pipeline.runner.run`."""
    from pipeline.runner import run as _run

    return _run(*args, **kwargs)


def train(*args, **kwargs):
    """Train an adapter on curated shards; see :func:`pipeline.train.api.train`."""
    from pipeline.train.api import train as _train

    return _train(*args, **kwargs)
