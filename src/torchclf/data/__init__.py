"""Data: built-in generators, tabular files, the Dataset and its split."""

from torchclf.data.dataset import Dataset, Standardizer, from_arrays, split_indices

__all__ = ["Dataset", "Standardizer", "from_arrays", "split_indices"]
