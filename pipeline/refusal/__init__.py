"""Refusal detection, over-refusal judgement and controlled injection of negative samples.

- :mod:`pipeline.refusal.cues`: compile the cue lists of ``rules/refusal.yaml``.
- :mod:`pipeline.refusal.prefilter`: cheap necessary conditions checked before a cue regex runs.
- :mod:`pipeline.refusal.detect`: classify an output as answer/refusal/clarification/correction.
- :mod:`pipeline.refusal.intent`: harmful vs benign-sense instructions, inputs an instruction needs.
- :mod:`pipeline.refusal.ratio`: exact injection-count arithmetic.
- :mod:`pipeline.refusal.seeds` and :mod:`pipeline.refusal.inject`: template-based generators.
"""
