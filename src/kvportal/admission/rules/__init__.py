"""Pure rules of the admission applications (no Django): hours, dates, Anlage 1, signatories,
fees, lifecycle and the declarative application types."""
