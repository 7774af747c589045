"""kvportal – Mitgliederportal einer Kassenärztlichen Vereinigung."""

__version__ = "0.1.0"
