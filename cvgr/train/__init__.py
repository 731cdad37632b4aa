"""Training: SGD with the paper's schedule, gradient regularization and zeta, CUDA-graph replay."""
