"""Privacy: deletion requests (buyer and shop scope), their receipts, the erasure registry
of every store, the deauthorization grace period and the retention sweep."""
