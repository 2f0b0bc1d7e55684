"""Token stores: a corpus tokenized once, read by every later job (see `format`)."""

from cooc.store.format import is_store
from cooc.store.reader import TokenStore, open_store

__all__ = ["TokenStore", "is_store", "open_store"]
