-- TicketQueue's PostgreSQL schema (cluster mode). Safe to run again: every statement is idempotent.
-- Applied by docker-compose at first start and by the integration tests; see docs/cluster.md.

-- One schema per service of the original design. Each holds the Orleans grain state of its grains.
CREATE SCHEMA IF NOT EXISTS user_service;         -- accounts, sign-in sessions
CREATE SCHEMA IF NOT EXISTS event_service;        -- the event catalogue, each event's queue counters
CREATE SCHEMA IF NOT EXISTS reservation_service;  -- seat blocks, reservations, users' reservations
CREATE SCHEMA IF NOT EXISTS payment_service;      -- payments at the sandbox provider
CREATE SCHEMA IF NOT EXISTS queue_service;        -- per-user places in line, one row per user
CREATE SCHEMA IF NOT EXISTS common;               -- the outbox of domain events

-- Grain state: one row per grain and state name. The key is the grain id as the Orleans ADO.NET provider
-- splits it (two 64-bit halves for Guid and integer keys, the text for string keys); "version" is the
-- ETag that makes a stale write fail. A cleared record keeps its row with a null payload, so its version
-- still guards the next write.
DO $$
DECLARE
    schema_name text;
BEGIN
    FOREACH schema_name IN ARRAY ARRAY['user_service', 'event_service', 'reservation_service', 'payment_service'] LOOP
        EXECUTE format($ddl$
            CREATE TABLE IF NOT EXISTS %I.grain_state (
                service_id   text        NOT NULL,
                grain_type   text        NOT NULL,
                grain_id_n0  bigint      NOT NULL,
                grain_id_n1  bigint      NOT NULL,
                grain_id_ext text        NOT NULL DEFAULT '',
                payload      bytea,
                version      integer     NOT NULL,
                modified_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
            )$ddl$, schema_name);
    END LOOP;
END
$$;

-- The queries the Orleans ADO.NET grain storage runs, read once when a silo starts. Each storage
-- provider connects with its own schema first on the search path, so "grain_state" below is that
-- schema's table. Parameters are cast so that a null still has a type.
CREATE TABLE IF NOT EXISTS OrleansQuery (
    QueryKey  varchar(64) PRIMARY KEY,
    QueryText text        NOT NULL
);

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
    SELECT payload AS "PayloadBinary", version AS "Version"
    FROM grain_state
    WHERE service_id = @ServiceId::text
      AND grain_type = @GrainTypeString::text
      AND grain_id_n0 = @GrainIdN0::bigint
      AND grain_id_n1 = @GrainIdN1::bigint
      AND grain_id_ext = COALESCE(@GrainIdExtensionString::text, '')
$q$),
-- A first write (no version) inserts version 1 unless a row exists; a later write succeeds only
-- against the version it read. No row back means a conflict.
('WriteToStorageKey', $q$
    WITH updated AS (
        UPDATE grain_state
        SET payload = @PayloadBinary::bytea,
            version = CASE WHEN version = 2147483647 THEN 1 ELSE version + 1 END,
            modified_at = now()
        WHERE @GrainStateVersion::integer IS NOT NULL
          AND version = @GrainStateVersion::integer
          AND service_id = @ServiceId::text
          AND grain_type = @GrainTypeString::text
          AND grain_id_n0 = @GrainIdN0::bigint
          AND grain_id_n1 = @GrainIdN1::bigint
          AND grain_id_ext = COALESCE(@GrainIdExtensionString::text, '')
        RETURNING version
    ), inserted AS (
        INSERT INTO grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
        SELECT @ServiceId::text, @GrainTypeString::text, @GrainIdN0::bigint, @GrainIdN1::bigint,
               COALESCE(@GrainIdExtensionString::text, ''), @PayloadBinary::bytea, 1
        WHERE @GrainStateVersion::integer IS NULL
        ON CONFLICT DO NOTHING
        RETURNING version
    )
    SELECT version AS "NewGrainStateVersion" FROM updated
    UNION ALL
    SELECT version FROM inserted
$q$),
-- Clearing keeps the row (null payload) and moves the version on, under the same rule as a write.
('ClearStorageKey', $q$
    WITH updated AS (
        UPDATE grain_state
        SET payload = NULL,
            version = CASE WHEN version = 2147483647 THEN 1 ELSE version + 1 END,
            modified_at = now()
        WHERE @GrainStateVersion::integer IS NOT NULL
          AND version = @GrainStateVersion::integer
          AND service_id = @ServiceId::text
          AND grain_type = @GrainTypeString::text
          AND grain_id_n0 = @GrainIdN0::bigint
          AND grain_id_n1 = @GrainIdN1::bigint
          AND grain_id_ext = COALESCE(@GrainIdExtensionString::text, '')
        RETURNING version
    ), inserted AS (
        INSERT INTO grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, payload, version)
        SELECT @ServiceId::text, @GrainTypeString::text, @GrainIdN0::bigint, @GrainIdN1::bigint,
               COALESCE(@GrainIdExtensionString::text, ''), NULL, 1
        WHERE @GrainStateVersion::integer IS NULL
        ON CONFLICT DO NOTHING
        RETURNING version
    )
    SELECT version FROM updated
    UNION ALL
    SELECT version FROM inserted
$q$)
ON CONFLICT (QueryKey) DO UPDATE SET QueryText = excluded.QueryText;

-- Places in line. A queue shard saves only the rows that changed, in one transaction that first moves
-- the shard's version on from the one it loaded: a second activation of the same shard cannot write.
CREATE TABLE IF NOT EXISTS queue_service.queue_shards (
    shard_key text   PRIMARY KEY,  -- "{eventId}#{shard}"
    version   bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS queue_service.queue_entries (
    shard_key text     NOT NULL,
    user_id   uuid     NOT NULL,
    number    bigint   NOT NULL,  -- ticket number, or pre-queue place when flags has bit 1
    batch_id  integer  NOT NULL,  -- admission batch the user claimed, 0 before
    flags     smallint NOT NULL,  -- 1 pre-queue, 2 claimed, 4 finished
    PRIMARY KEY (shard_key, user_id)
);

-- Domain events recorded with the state change that caused them, shipped to Kafka afterwards by the
-- relay (docs/events.md). "seq" is the order of recording: one aggregate's events are recorded in
-- order, so shipping by seq keeps them in order. "payload" is the CloudEvents JSON envelope.
CREATE TABLE IF NOT EXISTS common.outbox_events (
    id             uuid        PRIMARY KEY,
    seq            bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    event_type     text        NOT NULL,
    payload        jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published      boolean     NOT NULL DEFAULT false,
    published_at   timestamptz
);

CREATE INDEX IF NOT EXISTS outbox_events_unpublished ON common.outbox_events (seq) WHERE NOT published;
-- The relays delete published events after a retention (TicketQueue:Events:RetainPublished).
-- CONCURRENTLY: re-running this script on a live database with a long outbox does not block the
-- grains' inserts while the index builds (psql -f runs each statement on its own, as it must).
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_events_published_at ON common.outbox_events (published_at) WHERE published;
