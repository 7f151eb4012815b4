"""The PostgreSQL store (`[index] store = "postgres"`): one index shared by many bot processes."""
