"""Where results live on disk: run directories, model files, and what may be replaced."""
