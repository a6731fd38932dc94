"""Training settings that keep tests fast (a module of its own: spawned DDP workers import it)."""
FAST = {"max_seq_len": 128, "micro_batch_size": 4, "warmup_steps": 1, "eval_every": 4, "lr": 5e-3,
        "progress": False, "save_every": 100}
