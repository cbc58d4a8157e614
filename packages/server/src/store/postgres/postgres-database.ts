/**
 * The PostgreSQL connection pool of one process (postgres.js), and how its statements fail: constraint violations
 * the contract names become RepositoryError; every other PostgresError is rethrown as a PostgresStoreError carrying
 * only the SQLSTATE code and the server's primary message — never the `detail` field, which quotes key values
 * (account ids, username hashes), nor the query parameters. Transactions aborted for a deadlock or a serialization
 * failure are retried. The repository (postgres-repository.ts), the key directory (postgres-keys.ts) and the queue
 * batch writer (queue-batch.ts) all work through it.
 */
import postgres from 'postgres';
import type { Sql } from 'postgres';
import { RepositoryError, usernameTaken } from '../repository.js';
import { reservedTransaction } from './reserved-transaction.js';

export interface PostgresConnectOptions {
  /** Schema to keep every table in (created if missing, selected through search_path); default: the server's. */
  readonly schema?: string;
  /** Pool size (connections). */
  readonly max?: number;
}

/** A PostgreSQL failure with the details (which may quote stored values) stripped. */
export class PostgresStoreError extends Error {
  override readonly name = 'PostgresStoreError';
  constructor(
    /** SQLSTATE, e.g. 40P01. */
    readonly code: string,
    message: string,
  ) {
    super(`PostgreSQL error ${code}: ${message}`);
  }
}

type RepositoryCode = RepositoryError['code'];

// Array parameters need their element type OID (postgres.js cannot infer it from an empty or all-null array). It maps
// them to array types with the type list it fetches on its first connection, which connect() opens before returning.
export const OID = { text: 25, int4: 23, int8: 20, bytea: 17 } as const;

const TRANSACTION_ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export class PostgresDatabase {
  private closed = false;

  private constructor(
    readonly sql: Sql,
    /** The schema this pool works in, when one was chosen. */
    readonly schema: string | undefined,
  ) {}

  /**
   * Connects (and checks the connection with one query). With `schema`, creates it if missing and points the
   * search_path of every pooled connection at it.
   */
  static async connect(url: string, options: PostgresConnectOptions = {}): Promise<PostgresDatabase> {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new Error('invalid PostgreSQL schema name: use lowercase letters, digits and "_", not starting with a digit');
    }
    const sql = postgres(url, {
      max: options.max ?? 10,
      // postgres.js prints notices (e.g. "schema already exists, skipping") to the console by default.
      onnotice: () => undefined,
      connection: { application_name: 'samizdat-server', ...(schema === undefined ? {} : { search_path: schema }) },
    });
    try {
      if (schema === undefined) {
        await sql`SELECT 1`;
      } else {
        await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).catch((err: unknown) => {
          // Two processes creating the schema at the same moment: one of them loses the race, which is fine.
          if (!['42P06', '23505'].includes(pgCode(err) ?? '')) throw err;
        });
      }
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw translate(err);
    }
    return new PostgresDatabase(sql, schema);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs one query (or a few) and translates its errors; `foreignKey` names what a foreign key violation means. */
  async guard<T>(run: () => Promise<T>, foreignKey?: RepositoryCode): Promise<T> {
    if (this.closed) throw new Error('the PostgreSQL repository is closed');
    try {
      return await run();
    } catch (err) {
      throw translate(err, foreignKey);
    }
  }

  /** A transaction, retried when PostgreSQL aborted it for a deadlock or a serialization failure. */
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.guard(() => reservedTransaction(this.sql, fn));
      } catch (err) {
        if (!(err instanceof PostgresStoreError && RETRYABLE.has(err.code)) || attempt >= TRANSACTION_ATTEMPTS) throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sql.end({ timeout: 5 });
  }
}

function pgCode(err: unknown): string | undefined {
  if (!(err instanceof Error) || err.name !== 'PostgresError') return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function translate(err: unknown, foreignKey?: RepositoryCode): unknown {
  const code = pgCode(err);
  if (code === undefined) return err;
  const constraint = (err as { constraint_name?: unknown }).constraint_name;
  if (code === '23505' && constraint === 'accounts_username_hash_key') return usernameTaken();
  if (code === '23503' && foreignKey !== undefined) {
    return new RepositoryError(foreignKey, foreignKey === 'DEVICE_NOT_FOUND' ? 'no such device' : 'no such account');
  }
  return new PostgresStoreError(code, (err as Error).message);
}
