"""Handcrafted forensic features computed from clip arrays."""
