"""1-Click-Abrechnung: the Begleitdatei (Django-free) and the intake of a delivery into billing."""
