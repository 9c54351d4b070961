from tests.conftest import data_root, labels_rows  # noqa: F401  (shared fixtures)
