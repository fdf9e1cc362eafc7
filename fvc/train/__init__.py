"""The torch training engine: datasets and loaders, the epoch loop, checkpoints and out-of-memory back-off.

It knows nothing of model kinds: :mod:`fvc.learners` builds a plan and calls it for the models trained by
epochs, and fold training, the search, test sets and ``fvc predict`` reach it only through a learner.
"""
