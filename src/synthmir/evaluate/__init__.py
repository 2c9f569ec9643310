"""Stage 4, evaluation: metrics and plots per model, the leaderboard, the HTML report."""
