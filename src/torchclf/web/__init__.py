"""The browser playground: a FastAPI server over torchclf sessions and a static page."""
