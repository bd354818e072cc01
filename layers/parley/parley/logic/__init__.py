"""Domain rules: what each request may do and what it writes. Called by the thin handlers in functions/."""
