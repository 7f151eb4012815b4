"""The index store: what a question reads, the build, and the two stores (embedded files, PostgreSQL)."""
