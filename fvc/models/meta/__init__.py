"""Torch-free metadata of the model families: the values a family registers as choices and its network reads.

One file per family. The registration module (``fvc/models/<family>.py``) and the network
(``fvc/models/nets/<family>.py``) both import it and it imports neither, so the two never import each other
both ways and reading the registry never imports torch.
"""
