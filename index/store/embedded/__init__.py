"""The embedded store: the index in generation folders (NumPy, FAISS, BM25) under index_dir."""
