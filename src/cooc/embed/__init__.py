"""Word vectors from the corpus."""
