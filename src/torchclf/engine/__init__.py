"""Training: the fit loop, its callbacks and optimizers by name."""
