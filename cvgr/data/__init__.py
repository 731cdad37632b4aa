"""Datasets: their registry, raw files -> one HDF5 per dataset, and training-time augmentation."""
