"""candleflow.stack"""
