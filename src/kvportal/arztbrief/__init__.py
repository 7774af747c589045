"""eArztbrief over KIM: counting rules for GOP 86900/86901 (Django-free so far)."""
