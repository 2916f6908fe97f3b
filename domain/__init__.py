"""Domain shared by workflows, activities and the ingress: models, ladder policy, calendar, law.

Everything here is pure (no I/O at call time) so the workflow sandbox can import it passed-through.
"""
