-- Key/value storage of errbotd (SQLite). One row per key of a namespace ("core" or a plugin's
-- name). `value` is JSON text exactly as written (validated by errbotd); `version` changes on
-- every write and comes from storage_meta's counter, so that it is never reused for a key, even
-- after a delete (compare-and-set without ABA).
CREATE TABLE storage_entries (
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;

CREATE TABLE storage_meta (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO storage_meta (name, value) VALUES ('version', 0);
