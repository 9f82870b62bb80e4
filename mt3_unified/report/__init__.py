"""Human-facing output: self-contained HTML reports and plots (piano rolls, curves)."""
