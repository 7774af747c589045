"""KBV master files (SDPLZ, SDKT, SDICD) imported into the portal database, per quarter."""
