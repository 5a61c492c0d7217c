"""One run's pipeline: indicators, the column pass, simulation, benchmark curve, drill-down."""
