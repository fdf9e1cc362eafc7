"""Data: discovering inputs, the video index, cross-validation splits and the synthetic corpus."""
