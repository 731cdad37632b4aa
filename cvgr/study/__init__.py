"""The study: typed config and job specs, config layers, the plan of jobs, code hashes, the run lock."""
