"""File input/output: atomic writes, video probing/decoding and encoding."""

from fvc.io.atomic import atomic_path, atomic_write, write_json, write_parquet, write_text

__all__ = ["atomic_path", "atomic_write", "write_json", "write_parquet", "write_text"]
