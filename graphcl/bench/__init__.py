"""Benchmark suites behind ``graphcl bench``: they run methods over datasets and seeds and write
tables (markdown + CSV) and plots."""
