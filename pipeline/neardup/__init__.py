"""Near-duplicate detection: shingles, vectorised MinHash, datasketch LSH, clusters.

The ``dedup`` stage uses :class:`pipeline.neardup.detector.NearDupDetector`; the
modules underneath are usable on their own (the benchmark does).
"""
