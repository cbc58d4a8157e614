import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_LIMITS, resolveConfig } from '../src/config.js';
import type { RawOptions } from '../src/config.js';

const CWD = '/srv/samizdat';

function expectConfigError(flags: RawOptions, env: NodeJS.ProcessEnv = {}): void {
  expect(() => resolveConfig(flags, env, CWD)).toThrow(ConfigError);
}

describe('resolveConfig', () => {
  it('defaults to 127.0.0.1:8080, ./data, SQLite, the local bus and info logs', () => {
    expect(resolveConfig({}, {}, CWD)).toEqual({
      port: 8080,
      host: '127.0.0.1',
      dataDir: '/srv/samizdat/data',
      databaseUrl: undefined,
      natsUrl: undefined,
      logLevel: 'info',
      limits: DEFAULT_LIMITS,
      metricsToken: undefined,
      usernameKeyFile: '/srv/samizdat/data/username.key',
      trustRootKeyFile: '/srv/samizdat/data/trust-root.key',
      dsThreads: 1,
    });
  });

  it('reads the sealed-sender trust root file from --trust-root-key-file or SAMIZDAT_TRUST_ROOT_KEY_FILE, default in the data directory', () => {
    expect(resolveConfig({ trustRootKeyFile: 'keys/root.key' }, { SAMIZDAT_TRUST_ROOT_KEY_FILE: '/env/root.key' }, '/srv').trustRootKeyFile).toBe('/srv/keys/root.key');
    expect(resolveConfig({}, { SAMIZDAT_TRUST_ROOT_KEY_FILE: '/env/root.key' }, '/srv').trustRootKeyFile).toBe('/env/root.key');
    expect(resolveConfig({ dataDir: '/var/samizdat' }, {}, '/srv').trustRootKeyFile).toBe('/var/samizdat/trust-root.key');
  });

  it('reads the delivery service threads from --ds-threads or SAMIZDAT_DS_THREADS (0: the event loop), and rejects bad counts', () => {
    expect(resolveConfig({ dsThreads: '3' }, { SAMIZDAT_DS_THREADS: '2' }, CWD).dsThreads).toBe(3);
    expect(resolveConfig({}, { SAMIZDAT_DS_THREADS: '0' }, CWD).dsThreads).toBe(0);
    for (const bad of ['-1', '65', '1.5', 'two']) {
      expect(() => resolveConfig({ dsThreads: bad }, {}, CWD)).toThrow(ConfigError);
    }
  });

  it('reads every setting from its SAMIZDAT_* environment variable', () => {
    const env = {
      SAMIZDAT_PORT: '9000',
      SAMIZDAT_HOST: '0.0.0.0',
      SAMIZDAT_DATA_DIR: 'var/lib',
      SAMIZDAT_DATABASE_URL: 'postgres://db.example/samizdat',
      SAMIZDAT_NATS_URL: 'nats://bus.example:4222',
      SAMIZDAT_LOG_LEVEL: 'warn',
    };
    expect(resolveConfig({}, env, CWD)).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      dataDir: '/srv/samizdat/var/lib',
      databaseUrl: 'postgres://db.example/samizdat',
      natsUrl: 'nats://bus.example:4222',
      logLevel: 'warn',
    });
  });

  it('lets flags win over the environment', () => {
    const env = {
      SAMIZDAT_PORT: '9000',
      SAMIZDAT_HOST: '0.0.0.0',
      SAMIZDAT_DATA_DIR: '/env/data',
      SAMIZDAT_DATABASE_URL: 'postgres://env/db',
      SAMIZDAT_NATS_URL: 'nats://env:4222',
      SAMIZDAT_LOG_LEVEL: 'warn',
    };
    const flags = {
      port: '9001',
      host: '::1',
      dataDir: '/flag/data',
      databaseUrl: 'postgresql://flag/db',
      natsUrl: 'tls://flag:4222',
      logLevel: 'debug',
    };
    expect(resolveConfig(flags, env, CWD)).toMatchObject({
      port: 9001,
      host: '::1',
      dataDir: '/flag/data',
      databaseUrl: 'postgresql://flag/db',
      natsUrl: 'tls://flag:4222',
      logLevel: 'debug',
    });
    // A flag wins even over an invalid environment value, which is then never looked at.
    expect(resolveConfig({ port: '0' }, { SAMIZDAT_PORT: 'abc' }, CWD).port).toBe(0);
  });

  it('treats an empty environment variable as unset', () => {
    expect(resolveConfig({}, { SAMIZDAT_PORT: '', SAMIZDAT_DATABASE_URL: '', SAMIZDAT_LOG_LEVEL: '' }, CWD)).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
      logLevel: 'info',
    });
  });

  it('accepts ports 0 (any free port) to 65535', () => {
    for (const port of ['0', '1', '8080', '65535']) expect(resolveConfig({ port }, {}, CWD).port).toBe(Number(port));
  });

  it('rejects a bad port with ConfigError, from a flag or the environment', () => {
    for (const port of ['abc', '-1', '65536', '80.5', '1e3', ' 80', '0x50', '123456']) {
      expectConfigError({ port });
      expectConfigError({}, { SAMIZDAT_PORT: port });
    }
  });

  it('rejects an unknown log level with ConfigError', () => {
    for (const logLevel of ['verbose', 'INFO', 'warning', '30']) {
      expectConfigError({ logLevel });
      expectConfigError({}, { SAMIZDAT_LOG_LEVEL: logLevel });
    }
  });

  it('rejects a database URL that is not postgres:// with ConfigError', () => {
    for (const databaseUrl of ['mysql://db/x', 'sqlite:data.db', 'postgres:/db', 'db.example:5432', 'http://postgres/']) {
      expectConfigError({ databaseUrl });
      expectConfigError({}, { SAMIZDAT_DATABASE_URL: databaseUrl });
    }
  });

  it('rejects a bad NATS URL or a host with spaces with ConfigError', () => {
    expectConfigError({ natsUrl: 'http://bus:4222' });
    expectConfigError({ host: 'local host' });
  });

  it('reads the rate limits from SAMIZDAT_RATE_LIMIT_* and rejects values that are not integers in range', () => {
    const config = resolveConfig({}, { SAMIZDAT_RATE_LIMIT_ACCOUNT_PER_MIN: '120', SAMIZDAT_RATE_LIMIT_IP_PER_MIN: '5000' }, '/srv');
    expect(config.limits.accountRequestsPerMinute).toBe(120);
    expect(config.limits.ipRequestsPerMinute).toBe(5000);
    expect(resolveConfig({}, {}, '/srv').limits.accountRequestsPerMinute).toBe(DEFAULT_LIMITS.accountRequestsPerMinute);
    for (const bad of ['0', '-5', '1.5', 'lots', '1000000001']) {
      expect(() => resolveConfig({}, { SAMIZDAT_RATE_LIMIT_IP_PER_MIN: bad }, '/srv')).toThrow(ConfigError);
      expect(() => resolveConfig({}, { SAMIZDAT_RATE_LIMIT_ACCOUNT_PER_MIN: bad }, '/srv')).toThrow(ConfigError);
    }
  });

  it('reads the per-target budgets and the storage quotas from the environment, and rejects values out of range', () => {
    const env = {
      SAMIZDAT_RATE_LIMIT_BUNDLES_PER_TARGET_BURST: '5',
      SAMIZDAT_RATE_LIMIT_BUNDLES_PER_TARGET_PER_MIN: '2',
      SAMIZDAT_RATE_LIMIT_BUNDLE_TARGETS_BURST: '50',
      SAMIZDAT_RATE_LIMIT_BUNDLE_TARGETS_PER_MIN: '10',
      SAMIZDAT_RATE_LIMIT_KEY_PACKAGES_PER_TARGET_BURST: '7',
      SAMIZDAT_RATE_LIMIT_KEY_PACKAGES_PER_TARGET_PER_MIN: '3',
      SAMIZDAT_RATE_LIMIT_KEY_PACKAGE_TARGETS_BURST: '100',
      SAMIZDAT_RATE_LIMIT_KEY_PACKAGE_TARGETS_PER_MIN: '40',
      SAMIZDAT_RATE_LIMIT_USERNAME_LOOKUPS_BURST: '30',
      SAMIZDAT_RATE_LIMIT_USERNAME_LOOKUPS_PER_MIN: '4',
      SAMIZDAT_QUOTA_ATTACHMENTS_PER_ACCOUNT: '500',
      SAMIZDAT_QUOTA_ATTACHMENT_BYTES_PER_ACCOUNT: '1099511627776',
      SAMIZDAT_QUOTA_GROUPS_PER_ACCOUNT: '20',
    };
    expect(resolveConfig({}, env, CWD).limits).toEqual({
      ...DEFAULT_LIMITS,
      bundlesPerTargetBurst: 5,
      bundlesPerTargetPerMinute: 2,
      bundleTargetsBurst: 50,
      bundleTargetsPerMinute: 10,
      keyPackageClaimsPerTargetBurst: 7,
      keyPackageClaimsPerTargetPerMinute: 3,
      keyPackageTargetsBurst: 100,
      keyPackageTargetsPerMinute: 40,
      usernameLookupsBurst: 30,
      usernameLookupsPerMinute: 4,
      maxAttachmentsPerAccount: 500,
      maxAttachmentBytesPerAccount: 2 ** 40,
      maxGroupsPerAccount: 20,
    });
    for (const name of Object.keys(env)) {
      for (const bad of ['0', '-5', '1.5', 'lots', '99999999999999999']) expectConfigError({}, { [name]: bad });
    }
    // One claim may name 100 accounts: a smaller new-target burst would refuse it for ever.
    expectConfigError({}, { SAMIZDAT_RATE_LIMIT_KEY_PACKAGE_TARGETS_BURST: '99' });
  });

  it('reads the metrics token, the username key file and the connections per IP, and rejects bad ones without echoing a token', () => {
    const config = resolveConfig(
      { metricsToken: 'a'.repeat(32), usernameKeyFile: 'keys/username.key', maxConnectionsPerIp: '12' },
      {},
      '/srv',
    );
    expect(config).toMatchObject({ metricsToken: 'a'.repeat(32), usernameKeyFile: '/srv/keys/username.key' });
    expect(config.limits.maxConnectionsPerIp).toBe(12);
    const defaults = resolveConfig({ dataDir: '/var/samizdat' }, {}, '/srv');
    expect(defaults).toMatchObject({ metricsToken: undefined, usernameKeyFile: '/var/samizdat/username.key' });
    expect(defaults.limits.maxConnectionsPerIp).toBe(DEFAULT_LIMITS.maxConnectionsPerIp);
    expect(resolveConfig({}, { SAMIZDAT_METRICS_TOKEN: 'b'.repeat(16), SAMIZDAT_USERNAME_KEY_FILE: '/k' }, '/srv')).toMatchObject({
      metricsToken: 'b'.repeat(16),
      usernameKeyFile: '/k',
    });
    for (const metricsToken of ['short', 'with space in it 0123', 'x'.repeat(513)]) {
      expectConfigError({ metricsToken });
      try {
        resolveConfig({ metricsToken }, {}, CWD);
      } catch (err) {
        expect((err as Error).message).not.toContain(metricsToken);
      }
    }
    for (const maxConnectionsPerIp of ['0', '-1', '1.5', 'many', '1000001']) expectConfigError({ maxConnectionsPerIp });
  });
});
