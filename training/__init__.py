"""tinyFQnet training pipeline: label -> sample -> train -> export.

Each step is a module runnable with ``python -m training.<step>``; see README.md.
"""
