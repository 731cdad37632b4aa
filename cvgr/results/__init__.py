"""Result files: records, atomic HDF5 and model files, provenance and lineage."""
