"""Training: one entry point per fold, dispatching on the model's kind."""
