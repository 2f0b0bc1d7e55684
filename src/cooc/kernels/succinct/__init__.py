"""Succinct structures shared by products: Elias-Fano sequences and Rice-coded counts."""
