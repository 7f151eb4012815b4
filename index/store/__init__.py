"""The index store: what a question reads, the build, and the two stores (embedded files, PostgreSQL).

`Store` is the interface the engine uses; `open_store` picks the implementation the configuration
names. Sub-packages: embedded/ (generation folders under index_dir), postgres/ (the index database).
"""
