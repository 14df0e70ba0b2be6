"""The live market-data feed: wire parsing, the websocket consumer, and the ingest pipeline."""
