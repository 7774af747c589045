"""KBV master files (SDPLZ, SDKT, SDICD, SDEBM, SDOPS) imported into the database per quarter."""
