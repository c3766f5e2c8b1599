"""`candleflow backfill`: CryptoCompare REST history written into the store (`run`) and its command (`cli`)."""
