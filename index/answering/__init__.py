"""Answering: retrieval, the reading model, the answer ranker, follow-ups and dates."""
