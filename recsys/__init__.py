"""pushadmin's models as a plain library.

Arrays and frozen dataclasses in, arrays and dataclasses out. Nothing here imports Django,
``apps`` or ``pushadmin``: the services translate between ORM rows and these types.
"""
