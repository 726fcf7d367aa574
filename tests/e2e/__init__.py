"""The kind workflow tests: a package, so the site fixture (scope="package") goes down after its last test."""
