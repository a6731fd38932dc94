"""Input and output: readers (containers, encodings, formats -> canonical records) and
writers (shards, rejects, manifest)."""
