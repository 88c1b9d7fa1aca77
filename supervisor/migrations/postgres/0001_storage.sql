-- Key/value storage of errbotd (PostgreSQL). One row per key of a namespace ("core" or a
-- plugin's name). `value` is JSON text exactly as written (validated by errbotd); `version`
-- changes on every write and comes from a sequence, so that it is never reused for a key, even
-- after a delete (compare-and-set without ABA). Keys sort in byte order (collation "C").
CREATE TABLE storage_entries (
    namespace  TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT             NOT NULL,
    version    BIGINT           NOT NULL,
    updated_at TIMESTAMPTZ      NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, key)
);

CREATE SEQUENCE storage_version AS BIGINT;
