import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { migrate } from './schema.js';

export type { Database } from 'better-sqlite3';

/**
 * Open the read-model file (created if missing). WAL lets the gateway read while the projector
 * writes; busy_timeout rides out a writer's checkpoint instead of failing the request.
 */
export function openReadModel(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
