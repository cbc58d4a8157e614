/**
 * Chooses and opens the store from the server configuration: the embedded SQLite file in the data directory by
 * default, PostgreSQL when a database URL is configured. The schema is migrated before the repository is returned.
 */
import { join } from 'node:path';
import { PostgresRepository } from './postgres/postgres-repository.js';
import type { Repository } from './repository.js';
import { SqliteRepository } from './sqlite/sqlite-repository.js';

/** The SQLite database file inside the data directory. */
export const SQLITE_FILE_NAME = 'samizdat.db';

export interface StoreConfig {
  readonly dataDir: string;
  /** postgres://… — when set, PostgreSQL is the store and the data directory holds no database. */
  readonly databaseUrl?: string | undefined;
}

/** Opens and migrates the configured store. Example: `await openRepository({ dataDir: './data' })`. */
export async function openRepository(config: StoreConfig): Promise<Repository> {
  const repo =
    config.databaseUrl === undefined
      ? SqliteRepository.open(join(config.dataDir, SQLITE_FILE_NAME))
      : await PostgresRepository.connect(config.databaseUrl);
  try {
    await repo.migrate();
  } catch (err) {
    await repo.close();
    throw err;
  }
  return repo;
}
