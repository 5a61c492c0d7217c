"""What a run leaves: result tables, metrics, formatting, comparison, export and the run store."""
