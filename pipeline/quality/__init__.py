"""Quality signals: one module per family of checks; ``pipeline.processors.quality`` wires them."""
