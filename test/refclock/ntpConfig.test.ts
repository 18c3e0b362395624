/**
 * The anchor and serving settings of node/config.ts: `anchors` (ntp:// and tsq:// URLs parsed into a
 * typed list, every mistake named precisely), `--anchor` (repeatable) and TIMEMESH_ANCHORS,
 * `--serve-ntp` and `--serve-tsq` (HOST:PORT or "off").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { ConfigError, NODE_FLAG_OPTIONS, parseAnchorUrl, resolveNodeConfig } from '../../node/config.ts';
import type { AnchorUrl, ResolveNodeConfigInput } from '../../node/config.ts';

const resolveWith = (input: ResolveNodeConfigInput) =>
  resolveNodeConfig({ cwd: '/srv/run', homeDir: '/home/op', ...input });

function issuesOf(input: ResolveNodeConfigInput): readonly string[] {
  try {
    resolveWith(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues;
  }
  assert.fail('expected a ConfigError');
}

function anchor(text: string): AnchorUrl {
  const r = parseAnchorUrl(text);
  assert.ok(r.ok, r.ok ? '' : r.problem);
  return r.anchor;
}

function problem(text: string): string {
  const r = parseAnchorUrl(text);
  assert.ok(!r.ok, `${text} should be refused`);
  return r.problem;
}

describe('anchor URLs', () => {
  it('parses ntp:// with the default port 123, a port, IPv6 in brackets, and poll exponents', () => {
    assert.deepEqual(anchor('ntp://time.example.org'), {
      scheme: 'ntp',
      url: 'ntp://time.example.org:123',
      host: 'time.example.org',
      port: 123,
      minPoll: null,
      maxPoll: null,
    });
    assert.equal(anchor('NTP://Time.Example.ORG:1123/').url, 'ntp://time.example.org:1123');
    assert.deepEqual(anchor('ntp://[::1]:11123'), {
      scheme: 'ntp',
      url: 'ntp://[::1]:11123',
      host: '::1',
      port: 11123,
      minPoll: null,
      maxPoll: null,
    });
    assert.equal(anchor('ntp://[0:0:0:0:0:0:0:1]').url, 'ntp://[::1]:123');
    const polled = anchor('ntp://192.0.2.1?minpoll=-2&maxpoll=4');
    assert.ok(polled.scheme === 'ntp');
    assert.deepEqual([polled.minPoll, polled.maxPoll, polled.url], [-2, 4, 'ntp://192.0.2.1:123']);
  });

  it('parses tsq:// with the default port 443, mode, insecure and a percent-encoded CA file', () => {
    assert.deepEqual(anchor('tsq://tsq.example.org'), {
      scheme: 'tsq',
      url: 'tsq://tsq.example.org:443?mode=stream',
      host: 'tsq.example.org',
      port: 443,
      mode: 'stream',
      insecure: false,
      caFile: null,
    });
    const dg = anchor('tsq://127.0.0.1:8443?mode=datagram&insecure=1');
    assert.ok(dg.scheme === 'tsq');
    assert.deepEqual(
      [dg.mode, dg.insecure, dg.url],
      ['datagram', true, 'tsq://127.0.0.1:8443?mode=datagram&insecure=1'],
    );
    const ca = anchor('tsq://[::1]:8443?ca=/etc/tsq/ca%2C1.pem');
    assert.ok(ca.scheme === 'tsq');
    assert.equal(ca.caFile, '/etc/tsq/ca,1.pem');
    assert.equal(ca.url, 'tsq://[::1]:8443?mode=stream&ca=%2Fetc%2Ftsq%2Fca%2C1.pem');
  });

  it('names each mistake', () => {
    assert.match(problem('time.example.org'), /^expected an anchor URL: ntp:\/\/HOST\[:PORT\] or tsq:\/\//);
    assert.equal(problem('http://x'), 'expected an anchor URL starting with ntp:// or tsq://, not http://');
    assert.match(problem('ntp://'), /^expected a host name or IP address after ntp:\/\//);
    assert.match(problem('ntp://bad_host'), /^expected a host name or IP address/);
    assert.match(problem('ntp://999.1.1.1'), /^expected a host name or IP address/);
    assert.match(problem('ntp://[not:an:ip]'), /^expected an IPv6 address inside the brackets/);
    assert.equal(
      problem('ntp://::1'),
      'expected a host name or IP address after ntp:// (an IPv6 address in brackets, ntp://[::1])',
    );
    assert.equal(problem('ntp://h:0'), 'expected a port from 1 to 65535 after the host (default 123)');
    assert.equal(problem('ntp://h:65536'), 'expected a port from 1 to 65535 after the host (default 123)');
    assert.equal(problem('tsq://h:x'), 'expected a port from 1 to 65535 after the host (default 443)');
    assert.equal(problem('ntp://user@h'), 'expected no user name in an ntp:// URL');
    assert.equal(problem('ntp://h/path'), 'expected no path after the host in an ntp:// URL');
    assert.equal(problem('ntp://h#frag'), 'expected no fragment (#…) in an ntp:// URL');
    assert.equal(
      problem('ntp://h?mode=stream'),
      'expected only the parameters minpoll, maxpoll in an ntp:// URL, not "mode"',
    );
    assert.equal(
      problem('tsq://h?modes=stream'),
      'expected only the parameters mode, insecure, ca in a tsq:// URL, not "modes"',
    );
    assert.equal(
      problem('tsq://h?mode=stream&mode=datagram'),
      'expected each parameter once, but mode appears twice',
    );
    assert.equal(problem('tsq://h?mode=quic'), 'expected mode=stream or mode=datagram');
    assert.equal(problem('tsq://h?insecure=yes'), 'expected insecure=1 or insecure=0');
    assert.equal(problem('tsq://h?ca='), 'expected a file path after ca=');
    assert.equal(problem('tsq://h?ca=%E0%A4%A'), 'expected a percent-encoded value for ca=');
    assert.equal(problem('tsq://h?insecure=1&ca=x.pem'), 'expected either insecure=1 or ca=FILE, not both');
    assert.match(problem('ntp://h?minpoll=x'), /^expected minpoll=N with N an integer from -6 to 9/);
    assert.match(problem('ntp://h?maxpoll=10'), /^expected maxpoll=N .*no sample older than 600 s/);
    assert.equal(problem('ntp://h?minpoll=6&maxpoll=4'), 'expected maxpoll ≥ minpoll (6)');
  });
});

describe('anchors, serveNtp and serveTsq settings', () => {
  it('default to no anchors and no servers', () => {
    const c = resolveWith({});
    assert.deepEqual(c.anchors, []);
    assert.equal(c.serveNtp, null);
    assert.equal(c.serveTsq, null);
    assert.equal(c.sources['anchors'], 'default');
  });

  it('take --anchor repeatedly (parseArgs), and TIMEMESH_ANCHORS comma-separated', () => {
    const { values } = parseArgs({
      args: [
        '--anchor',
        'ntp://192.0.2.1',
        '--anchor',
        'tsq://192.0.2.2:8443?mode=datagram',
        '--serve-ntp',
        '127.0.0.1:11123',
      ],
      options: NODE_FLAG_OPTIONS,
      strict: true,
    });
    const c = resolveWith({ flags: values });
    assert.deepEqual(
      c.anchors.map((a) => a.url),
      ['ntp://192.0.2.1:123', 'tsq://192.0.2.2:8443?mode=datagram'],
    );
    assert.deepEqual(c.serveNtp, { host: '127.0.0.1', port: 11123 });
    assert.equal(c.sources['anchors'], 'flag --anchor');
    const e = resolveWith({
      env: { TIMEMESH_ANCHORS: 'ntp://a.example, ntp://b.example:1123', TIMEMESH_SERVE_TSQ: '[::1]:0' },
    });
    assert.deepEqual(
      e.anchors.map((a) => a.url),
      ['ntp://a.example:123', 'ntp://b.example:1123'],
    );
    assert.deepEqual(e.serveTsq, { host: '::1', port: 0 });
    assert.equal(e.sources['anchors'], 'environment TIMEMESH_ANCHORS');
  });

  it('reads a file list, flags overriding the whole list, and "off" for the servers', () => {
    const file = {
      path: '/etc/timemesh/node.yaml',
      raw: { anchors: ['ntp://192.0.2.1'], serveNtp: '0.0.0.0:123' },
    };
    assert.equal(resolveWith({ file }).anchors.length, 1);
    assert.deepEqual(resolveWith({ file }).serveNtp, { host: '0.0.0.0', port: 123 });
    assert.deepEqual(
      resolveWith({ file, flags: { anchor: ['ntp://192.0.2.9'], 'serve-ntp': 'off' } }).anchors.map(
        (a) => a.host,
      ),
      ['192.0.2.9'],
    );
    assert.equal(resolveWith({ file, flags: { 'serve-ntp': 'off' } }).serveNtp, null);
  });

  it('resolves a relative CA file against the config file directory, and ~', () => {
    const file = { path: '/etc/timemesh/node.yaml', raw: { anchors: ['tsq://h?ca=certs/ca.pem'] } };
    const a = resolveWith({ file }).anchors[0]!;
    assert.ok(a.scheme === 'tsq');
    assert.equal(a.caFile, '/etc/timemesh/certs/ca.pem');
    const b = resolveWith({ flags: { anchor: ['tsq://h?ca=~/ca.pem'] } }).anchors[0]!;
    assert.ok(b.scheme === 'tsq');
    assert.equal(b.caFile, '/home/op/ca.pem');
  });

  it('names the source and the entry of each bad anchor, and refuses a server listed twice', () => {
    assert.deepEqual(issuesOf({ flags: { anchor: ['ntp://192.0.2.1', 'ntp://h:0'] } }), [
      'flag --anchor: expected a port from 1 to 65535 after the host (default 123), got "ntp://h:0"',
    ]);
    assert.deepEqual(issuesOf({ file: { path: 'tm.yaml', raw: { anchors: ['udp://x'] } } }), [
      'config file tm.yaml: anchors[0]: expected an anchor URL starting with ntp:// or tsq://, not udp://, got "udp://x"',
    ]);
    assert.deepEqual(issuesOf({ file: { path: 'tm.yaml', raw: { anchors: 'ntp://x' } } }), [
      'config file tm.yaml: anchors: expected a list of anchor URLs, got "ntp://x"',
    ]);
    assert.deepEqual(issuesOf({ env: { TIMEMESH_ANCHORS: 'ntp://a.example,ntp://A.example:123' } }), [
      'environment TIMEMESH_ANCHORS: expected each server once, ntp://a.example:123 is listed twice, got "ntp://A.example:123"',
    ]);
    assert.deepEqual(issuesOf({ flags: { 'serve-ntp': '123' } }), [
      'flag --serve-ntp: expected HOST:PORT, got "123"',
    ]);
    assert.deepEqual(issuesOf({ env: { TIMEMESH_SERVE_TSQ: 'h:70000' } }), [
      'environment TIMEMESH_SERVE_TSQ: expected HOST:PORT with a port from 0 to 65535, got "h:70000"',
    ]);
  });
});
