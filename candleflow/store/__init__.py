"""candleflow.store"""
