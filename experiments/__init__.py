"""Scripts that regenerate the paper's tables and figures (see RESULTS.md)."""
