"""sftpipe: curate English and Chinese instruction data into training-ready shards.

The library API mirrors the CLI: ``pipeline.run(inputs, config=..., out=...)`` returns
a run summary; ``pipeline.train(...)`` trains an adapter on the curated shards.
"""
__version__ = "0.1.0"


def run(*args, **kwargs):
    """Curate inputs; see :func:`pipeline.runner.run`."""
    from pipeline.runner import run as _run

    return _run(*args, **kwargs)


def __getattr__(name: str):
    # `pipeline.train` is the (callable) trainer package, imported on first use so that
    # `import pipeline` stays light (no torch).
    if name == "train":
        import importlib

        return importlib.import_module("pipeline.train")
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
