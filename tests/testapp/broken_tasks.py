"""A task module that no longer imports, for the tests of jobs whose task went away."""

raise RuntimeError("this module fails at import")
