"""The exchange's book by date: boards, price limits, lots, costs."""
