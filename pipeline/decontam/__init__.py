"""Overlap detection shared by `decontam`, `leak` and split hygiene: matching keys
(:mod:`.text`), a hashed n-gram coverage index (:mod:`.index`), eval-set loading
(:mod:`.evalsets`) and cross-split near-duplicate groups (:mod:`.hygiene`)."""
