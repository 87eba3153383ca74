import type { Database } from 'better-sqlite3';

/** Tables of the read model. CREATE ... IF NOT EXISTS: safe for every process that opens the file. */
export function migrate(db: Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS jobs (
      job_id       TEXT PRIMARY KEY,
      created_at   TEXT,
      sealed_at    TEXT,
      failed_at    TEXT,
      total        INTEGER,
      skipped      TEXT NOT NULL DEFAULT '[]',
      error        TEXT,
      source       TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE IF NOT EXISTS chunks (
      job_id            TEXT NOT NULL,
      chunk_id          TEXT NOT NULL,
      name              TEXT,
      status            TEXT NOT NULL,
      bytes             INTEGER,
      sha256            TEXT,
      original_object   TEXT,
      matte_object      TEXT,
      cutout_object     TEXT,
      comparison_object TEXT,
      width             INTEGER,
      height            INTEGER,
      figures           TEXT,
      failed_stage      TEXT,
      error             TEXT,
      dead_seq          INTEGER,
      updated_at        TEXT,
      PRIMARY KEY (job_id, chunk_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS chunks_by_status ON chunks (job_id, status);
    -- Stream sequences already folded in: a redelivered or replayed event is applied once.
    CREATE TABLE IF NOT EXISTS applied_events (seq INTEGER PRIMARY KEY);
    -- Outbox of HTTP callbacks: written in the same transaction as the event that causes them, sent
    -- by the projector's notifier; the unique key makes a redelivered event notify once.
    CREATE TABLE IF NOT EXISTS notifications (
      id         INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id     TEXT NOT NULL,
      key        TEXT NOT NULL UNIQUE,
      url        TEXT NOT NULL,
      body       TEXT NOT NULL,
      attempts   INTEGER NOT NULL DEFAULT 0,
      next_at    INTEGER NOT NULL DEFAULT 0,
      sent_at    TEXT,
      last_error TEXT
    );
    CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (sent_at, next_at);
  `);
  addColumn(db, 'jobs', 'callback_url', 'TEXT');
  addColumn(db, 'jobs', 'bytes_received', 'INTEGER NOT NULL DEFAULT 0');
  addColumn(db, 'jobs', 'chunks_found', 'INTEGER NOT NULL DEFAULT 0');
  addColumn(db, 'jobs', 'failure_kind', 'TEXT');
  addColumn(db, 'chunks', 'dead_seq', 'INTEGER');
}

/** ALTER TABLE ... ADD COLUMN, once: files written by an older version gain the column. */
function addColumn(db: Database, table: string, column: string, type: string): void {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}
