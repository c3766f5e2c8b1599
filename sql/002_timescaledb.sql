-- With the timescaledb extension present, bars and indicators become hypertables
-- (the primary keys already contain the time column) and old chunks are compressed,
-- segmented by series so a chart's query touches one segment. Without the extension
-- this migration does nothing and the same queries run on plain PostgreSQL.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM create_hypertable('bars', 'bucket', chunk_time_interval => interval '7 days',
                                  if_not_exists => true, migrate_data => true);
        PERFORM create_hypertable('indicators', 'bucket', chunk_time_interval => interval '7 days',
                                  if_not_exists => true, migrate_data => true);
        ALTER TABLE bars SET (timescaledb.compress,
                              timescaledb.compress_segmentby = 'symbol, resolution',
                              timescaledb.compress_orderby = 'bucket');
        ALTER TABLE indicators SET (timescaledb.compress,
                                    timescaledb.compress_segmentby = 'symbol, resolution, kind, period',
                                    timescaledb.compress_orderby = 'bucket');
        PERFORM add_compression_policy('bars', interval '30 days', if_not_exists => true);
        PERFORM add_compression_policy('indicators', interval '30 days', if_not_exists => true);
    END IF;
END
$$;
