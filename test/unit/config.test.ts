import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/loader.js';
import { defaultConfig } from '../../src/config/schema.js';

function problems(yaml: string, overrides: string[] = []): string[] {
  try {
    parseConfig(yaml, 'mpsshd.yaml', overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

test('no file and an empty file both give the built-in defaults', () => {
  assert.deepEqual(parseConfig(null, null).config, defaultConfig());
  assert.deepEqual(parseConfig('', 'x.yaml').config, defaultConfig());
  assert.deepEqual(parseConfig('# only comments\n', 'x.yaml').config, defaultConfig());
  const d = defaultConfig().pathManager;
  assert.deepEqual(d.defaultMode, ['subflow']);
  assert.equal(d.requireRoute, 'default');
  assert.equal(d.limits, 'auto');
  assert.deepEqual(d.ignoreByDefault, ['lo', 'docker*', 'veth*', 'virbr*', 'br-*']);
});

test('the documented example config is valid', () => {
  const file = path.resolve(__dirname, '../../../etc/mpsshd.yaml');
  const { config } = parseConfig(fs.readFileSync(file, 'utf8'), file);
  assert.ok(config.pathManager.interfaces.length > 0);
  // The ssh and api sections spell out the defaults: the file documents what runs without it.
  const defaults = parseConfig(null, null).config;
  assert.deepEqual(config.ssh, defaults.ssh);
  assert.deepEqual(config.api, defaults.api);
  assert.equal(config.dataDir, defaults.dataDir);
  assert.equal(config.stateDir, defaults.stateDir);
});

const errorRows: [string, string, string[], RegExp][] = [
  ['bad YAML names line and column', 'pathManager:\n  interfaces: [\n', [], /^mpsshd\.yaml:3:1: invalid YAML/],
  ['unknown key, with a suggestion', 'pathManager:\n  linkDownHold: 5\n', [], /^mpsshd\.yaml:2:3: pathManager\.linkDownHold: unknown key "linkDownHold" \(did you mean "linkDownHoldMs"\?\)$/],
  ['unknown top-level key', 'pathmanager: {}\n', [], /^mpsshd\.yaml:1:1: pathmanager: unknown key "pathmanager" \(did you mean "pathManager"\?\)$/],
  ['signal+fullmesh refused with the reason', 'pathManager:\n  interfaces:\n    - match: eth0\n      mode: [signal, fullmesh]\n', [], /^mpsshd\.yaml:4:13: pathManager\.interfaces\[0\]\.mode: modes "signal" and "fullmesh" cannot be combined/],
  ['unknown mode', 'pathManager:\n  defaultMode: [subflow, turbo]\n', [], /^mpsshd\.yaml:2:16: pathManager\.defaultMode: unknown mode "turbo"/],
  ['wrong type', 'pathManager:\n  linkDownHoldMs: soon\n', [], /^mpsshd\.yaml:2:19: pathManager\.linkDownHoldMs: .*expected number/],
  ['limit above the kernel maximum', 'pathManager:\n  limits: { subflows: 12, addAddrAccepted: 1 }\n', [], /^mpsshd\.yaml:2:23: pathManager\.limits\.subflows: .*<=8/],
  ['missing match', 'pathManager:\n  interfaces:\n    - { mode: subflow }\n', [], /^mpsshd\.yaml:3:7: pathManager\.interfaces\[0\]\.match: .*\(missing "match"\)$/],
  ['ignore with a mode', 'pathManager:\n  interfaces:\n    - { match: x, ignore: true, mode: subflow }\n', [], /pathManager\.interfaces\[0\]\.mode: a rule with "ignore: true" takes no "mode"/],
  ['duplicate key', 'log: {}\nlog: {}\n', [], /^mpsshd\.yaml:2:1: invalid YAML: Map keys must be unique/],
  ['not a mapping', '- a\n- b\n', [], /^mpsshd\.yaml:1:1: the file must be a YAML mapping/],
  ['a bad -o value names the option', '', ['pathManager.requireRoute=sometimes'], /^-o pathManager\.requireRoute=sometimes: pathManager\.requireRoute: /],
  ['an unknown -o key names the option', '', ['NoSuchOption=1'], /^-o NoSuchOption=1: NoSuchOption: unknown key "NoSuchOption"/],
  ['-o without a value', '', ['justakey'], /^-o justakey: expected Key=Value/],
];
for (const [name, yaml, overrides, re] of errorRows) {
  test(`config error: ${name}`, () => {
    const lines = problems(yaml, overrides);
    assert.ok(lines.some((l) => re.test(l)), `got:\n${lines.join('\n')}`);
  });
}

test('mptcpd-style flag strings and case are accepted', () => {
  const c = parseConfig('pathManager:\n  defaultMode: "Subflow,Backup"\n', 'x').config;
  assert.deepEqual(c.pathManager.defaultMode, ['subflow', 'backup']);
});

test('precedence: -o over file over defaults; later -o wins', () => {
  const yaml = 'pathManager:\n  linkDownHoldMs: 100\n  requireRoute: any\nlog: { level: warn }\n';
  const c = parseConfig(yaml, 'x', ['pathManager.linkDownHoldMs=250', 'LogLevel=DEBUG', 'pathManager.linkDownHoldMs=300']).config;
  assert.equal(c.pathManager.linkDownHoldMs, 300);
  assert.equal(c.pathManager.requireRoute, 'any');
  assert.equal(c.log.level, 'debug');
  assert.equal(c.pathManager.resyncIntervalMs, 30000);
});

test('files: missing default is fine, missing -f is not, writable by others is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpssh-config-'));
  try {
    assert.equal(loadConfig({ file: path.join(dir, 'none.yaml') }).file, null);
    assert.throws(() => loadConfig({ file: path.join(dir, 'none.yaml'), explicit: true }), /none\.yaml: cannot read: no such file/);
    const f = path.join(dir, 'mpsshd.yaml');
    fs.writeFileSync(f, 'pathManager: { linkDownHoldMs: 7 }\n');
    fs.chmodSync(f, 0o644);
    assert.equal(loadConfig({ file: f, explicit: true }).config.pathManager.linkDownHoldMs, 7);
    fs.chmodSync(f, 0o666);
    assert.throws(() => loadConfig({ file: f, explicit: true }), /refusing a config file writable by others \(mode 666\)/);
    fs.chmodSync(f, 0o644);
    if (process.geteuid?.() === 0) {
      // Whoever owns the file can make it writable: only root's is taken by a root daemon.
      fs.chownSync(f, 65534, 65534);
      assert.throws(() => loadConfig({ file: f, explicit: true }), /refusing a config file owned by uid 65534, not root/);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('config check: what sshd -t refuses, and YAML that would exhaust memory', () => {
  const rows: [string, RegExp][] = [
    ['ssh:\n  ListenAddress: "999.1.1.1:22"\n', /ssh\.ListenAddress: ListenAddress "999\.1\.1\.1:22": expected a numeric address/],
    ['ssh:\n  Ciphers: aes128-ctr,blowfish-cbc\n', /ssh\.Ciphers: unknown name: blowfish-cbc/],
    ['ssh:\n  MACs: "+hmac-sha2-256,hmac-sha9"\n', /ssh\.MACs: unknown name: hmac-sha9/],
    ['ssh:\n  KexAlgorithms: curve25519-sha256,curve448-sha512\n', /ssh\.KexAlgorithms: unknown name: curve448-sha512/],
    ['stateDir: run/mpssh\n', /stateDir: must be an absolute path/],
    ['dataDir: var/lib/mpssh\n', /dataDir: must be an absolute path/],
  ];
  for (const [yaml, re] of rows) assert.throws(() => parseConfig(yaml, 'test.yaml'), re, yaml);
  // Known names pass, removal patterns may use wildcards.
  assert.doesNotThrow(() => parseConfig('ssh:\n  Ciphers: "-aes*-ctr"\n  MACs: "-*-sha1*"\n  KexAlgorithms: "+diffie-hellman-group14-sha1"\n', 'test.yaml'));
  // Each level of aliases multiplies the document: a few lines, billions of nodes.
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 8 }, (_v, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
  assert.throws(() => parseConfig(bomb, 'bomb.yaml'), (err: Error) => err instanceof ConfigError && /bomb\.yaml:1:1: invalid YAML: .*alias/i.test(err.message));
});
