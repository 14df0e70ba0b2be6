"""Options math: Black-76 prices and greeks, implied volatility, chains and dealer gamma exposure."""
