"""Answer-leak detection for the `leak` stage: task intent (:mod:`.intent`), key values
and give-away spans (:mod:`.keys`), and the leak cases (:mod:`.detect`)."""
