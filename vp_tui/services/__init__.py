"""What both faces use: market, fleet, jobs, store."""
