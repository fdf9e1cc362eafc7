"""The torch networks behind the registered builders; imported only when a model is built."""
