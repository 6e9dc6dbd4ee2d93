// meshctl's pure formatting: tables, durations, progress bars, API error lines and the rotation status view.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorLines } from '../../src/client/errors.js';
import {
  age,
  relativeTime,
  renderTable,
  resourceTable,
  shortDuration,
  timestamp,
  dataplaneInsightTable,
} from '../../src/cli/format.js';
import { ASCII_BAR, bar, fraction, progressLine } from '../../src/cli/progress.js';
import { resourceTypeByName } from '../../src/cli/resources.js';
import {
  nextStepLines,
  progressLines,
  renderRotationStatus,
  rotationTarget,
  shortFingerprint,
} from '../../src/cli/rotation-view.js';
import { StatusLine } from '../../src/cli/terminal.js';
import type { DataplaneOverview, RotationStatus } from '../../src/cli/types.js';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const FP = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');

export function status(overrides: Partial<RotationStatus> = {}): RotationStatus {
  return {
    mesh: 'default',
    mtlsEnabled: true,
    enabledBackend: 'ca-1',
    bundleVersion: 'v1',
    activeDataplanes: 2,
    backends: [
      {
        name: 'ca-1',
        type: 'builtin',
        enabled: true,
        rootFingerprint: FP,
        notAfter: '2036-11-25T00:00:00.000Z',
        dataplanesIssued: 2,
        dataplanesTrusting: 2,
      },
      {
        name: 'ca-2',
        type: 'provided',
        enabled: false,
        rootFingerprint: FP,
        notAfter: '2030-01-01T00:00:00.000Z',
        dataplanesIssued: 0,
        dataplanesTrusting: 1,
      },
    ],
    nextStep: {
      action: 'enable',
      backend: 'ca-2',
      ready: false,
      description: 'waiting for 1 active dataplane to acknowledge a trust bundle with "ca-2"',
      waitingFor: { count: 1, names: ['web-2'] },
    },
    ...overrides,
  };
}

describe('tables and durations', () => {
  test('columns are padded to the widest cell, the last column is not padded', () => {
    assert.equal(
      renderTable(
        ['NAME', 'AGE'],
        [
          ['default', '1d'],
          ['x', '10y'],
        ],
      ),
      'NAME      AGE\ndefault   1d\nx         10y\n',
    );
  });

  test('short durations keep at most two units', () => {
    assert.equal(shortDuration(0), '0s');
    assert.equal(shortDuration(45_000), '45s');
    assert.equal(shortDuration(90 * 60_000), '1h30m');
    assert.equal(shortDuration(3 * 86_400_000 + 4 * 3_600_000 + 5 * 60_000), '3d4h');
    assert.equal(shortDuration(10 * 365 * 86_400_000), '10y');
    // a zero middle unit stops the output rather than skipping to the next one
    assert.equal(shortDuration(86_400_000 + 5 * 60_000), '1d');
  });

  test('relative times, ages and timestamps', () => {
    assert.equal(relativeTime(NOW + 3_600_000, NOW), 'in 1h');
    assert.equal(relativeTime('2026-11-28T11:58:00Z', NOW), '2m ago');
    assert.equal(relativeTime('garbage', NOW), '-');
    assert.equal(age('2026-11-27T12:00:00Z', NOW), '1d');
    assert.equal(age(undefined, NOW), '-');
    assert.equal(timestamp('2026-11-28T04:03:20.123Z'), '2026-11-28 04:03:20 UTC');
  });

  test('mesh table shows mTLS state and backends', () => {
    const text = resourceTable(
      resourceTypeByName('meshes'),
      [
        {
          type: 'Mesh',
          name: 'default',
          creationTime: '2026-11-28T11:00:00Z',
          mtls: {
            enabledBackend: 'ca-1',
            backends: [
              { name: 'ca-1', type: 'builtin' },
              { name: 'ca-2', type: 'provided' },
            ],
          },
        },
        { type: 'Mesh', name: 'plain', creationTime: '2026-11-28T11:59:30Z' },
      ],
      NOW,
      false,
    );
    assert.equal(
      text,
      'NAME      MTLS       BACKENDS                       AGE\n' +
        'default   on: ca-1   ca-1(builtin),ca-2(provided)   1h\n' +
        'plain     off        -                              30s\n',
    );
  });

  test('dataplane table lists services; the MESH column only for cross-mesh lists', () => {
    const dp = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'web-1',
      creationTime: '2026-11-28T11:00:00Z',
      networking: { address: '10.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] },
    };
    assert.match(
      resourceTable(resourceTypeByName('dp'), [dp], NOW, true),
      /^MESH\s+NAME\s+ADDRESS\s+SERVICES\s+AGE\ndefault\s+web-1\s+10\.0\.0\.1\s+web\s+1h\n$/,
    );
    assert.match(resourceTable(resourceTypeByName('dataplanes'), [dp], NOW, false), /^NAME\s+ADDRESS/);
  });

  test('inspect table: issued and trusted backends, expiry', () => {
    const overview: DataplaneOverview = {
      type: 'DataplaneOverview',
      mesh: 'default',
      name: 'web-1',
      creationTime: '2026-11-28T11:00:00Z',
      modificationTime: '2026-11-28T11:00:00Z',
      dataplane: { networking: { inbound: [{ tags: { 'kuma.io/service': 'web' } }] } },
      dataplaneInsight: {
        mTLS: {
          certificateExpirationTime: '2026-11-29T12:00:00.000Z',
          lastCertificateRegeneration: '2026-11-28T11:00:00.000Z',
          certificateRegenerations: 2,
          issuedBackend: 'ca-2',
          supportedBackends: ['ca-1', 'ca-2'],
        },
      },
    };
    const lines = dataplaneInsightTable(
      [overview, { ...overview, name: 'new', dataplaneInsight: undefined }],
      NOW,
    ).split('\n');
    assert.match(
      lines[1],
      /^default\s+web-1\s+web\s+ca-2\s+ca-1,ca-2\s+2026-11-29 12:00:00 UTC \(in 1d\)\s+2\s+1h ago$/,
    );
    assert.match(lines[2], /^default\s+new\s+web\s+-\s+-\s+-\s+0\s+-$/);
  });
});

describe('progress bars', () => {
  test('fraction: nothing to wait for counts as done', () => {
    assert.equal(fraction(0, 0), 1);
    assert.equal(fraction(3, 2), 1);
    assert.equal(fraction(1, 4), 0.25);
  });

  test('a bar is full only when everything is done, and shows any progress', () => {
    assert.equal(bar(0, 4, ASCII_BAR), `[${'-'.repeat(24)}]`);
    assert.equal(bar(1, 2, ASCII_BAR), `[${'#'.repeat(12)}${'-'.repeat(12)}]`);
    assert.equal(bar(999, 1000, ASCII_BAR), `[${'#'.repeat(23)}-]`);
    assert.equal(bar(1, 1000, ASCII_BAR), `[#${'-'.repeat(23)}]`);
    assert.equal(bar(2, 2, ASCII_BAR), `[${'#'.repeat(24)}]`);
  });

  test('progress line: padded label, counts and percent', () => {
    assert.equal(
      progressLine('trust ca-2', 1, 2, 12, { width: 4, full: '#', empty: '.' }),
      'trust ca-2   [##..] 1/2  50%',
    );
  });
});

describe('API error lines', () => {
  test('one line per cause, field first', () => {
    const body = {
      type: '/std-errors',
      status: 409,
      title: 'Could not process a resource',
      detail: 'Resource is not valid',
      causes: [
        {
          field: 'mtls.enabledBackend',
          message: 'cannot enable backend "ca-2" yet: 1 active dataplane do not trust it yet',
        },
        { field: 'mtls.backends', message: 'cannot remove backend "ca-1" yet' },
      ],
    };
    assert.deepEqual(apiErrorLines(409, body), [
      'mtls.enabledBackend: cannot enable backend "ca-2" yet: 1 active dataplane do not trust it yet',
      'mtls.backends: cannot remove backend "ca-1" yet',
    ]);
  });

  test('invalid_parameters when there are no causes; title and detail otherwise', () => {
    assert.deepEqual(apiErrorLines(400, { invalid_parameters: [{ field: 'name', reason: 'bad' }] }), ['name: bad']);
    assert.deepEqual(apiErrorLines(404, { title: 'Could not retrieve a resource', detail: 'Not found' }), [
      'Could not retrieve a resource: Not found',
    ]);
    assert.deepEqual(apiErrorLines(403, { title: 'Access Denied', detail: 'Access Denied' }), ['Access Denied']);
    assert.deepEqual(apiErrorLines(502, '<html>\n bad gateway </html>'), ['HTTP 502: <html> bad gateway </html>']);
    assert.deepEqual(apiErrorLines(500, {}), ['HTTP 500']);
  });
});

describe('rotation status view', () => {
  test('the target is the backend to enable, or the enabled one while an old one is removed', () => {
    assert.equal(rotationTarget(status()), 'ca-2');
    assert.equal(
      rotationTarget(
        status({
          enabledBackend: 'ca-2',
          nextStep: { action: 'remove', backend: 'ca-1', ready: false, description: '' },
        }),
      ),
      'ca-2',
    );
    assert.equal(rotationTarget(status({ nextStep: { action: 'none', ready: true, description: '' } })), 'ca-1');
  });

  test('bars for "trust <new>" and "re-issued by <new>"', () => {
    const [trust, issued] = progressLines(status(), ASCII_BAR);
    assert.match(trust, /^trust ca-2\s+\[#{12}-{12}\] 1\/2\s+50%$/);
    assert.match(issued, /^re-issued by ca-2 \[-{24}\] 0\/2\s+0%$/);
  });

  test('next step: not ready, with the dataplanes it waits for', () => {
    assert.deepEqual(
      nextStepLines(status({ nextStep: { ...status().nextStep, waitingFor: { count: 12, names: ['a', 'b'] } } })),
      [
        'Next step: enable ca-2 (not ready)',
        '  waiting for 1 active dataplane to acknowledge a trust bundle with "ca-2"',
        '  waiting for: a, b and 10 more',
      ],
    );
  });

  test('next step: ready, with the command that takes it', () => {
    const ready = status({
      nextStep: {
        action: 'enable',
        backend: 'ca-2',
        ready: true,
        description: 'ok',
        waitingFor: { count: 0, names: [] },
      },
    });
    assert.deepEqual(nextStepLines(ready), [
      'Next step: enable ca-2 (ready)',
      '  ok',
      '  run: meshctl rotate --mesh default --to ca-2',
    ]);
  });

  test('the whole view', () => {
    const text = renderRotationStatus(status(), NOW, ASCII_BAR);
    assert.match(text, /^Mesh "default": mTLS on, enabled backend ca-1, 2 active dataplanes, bundle v1\n\n/);
    assert.match(text, /\nBACKEND\s+TYPE\s+ENABLED\s+ISSUED\s+TRUSTING\s+CA EXPIRES\s+ROOT SHA-256\n/);
    assert.match(
      text,
      /\nca-2\s+provided\s+no\s+0\/2\s+1\/2\s+2030-01-01 00:00:00 UTC \(in 3y\d+d\)\s+00:01:02:03…1E:1F\n/,
    );
    assert.match(text, /\ntrust ca-2 +\[/);
    assert.match(text, /waiting for: web-2\n$/);
    assert.equal(
      renderRotationStatus(status({ mtlsEnabled: false }), NOW),
      'Mesh "default": mTLS is off, no CA to rotate\n',
    );
    assert.equal(shortFingerprint(null), '-');
  });
});

describe('status line', () => {
  test('on a terminal the progress line is rewritten in place', () => {
    let out = '';
    const line = new StatusLine({ isTTY: true, write: (s: string) => (out += s) });
    line.update('a 1/2');
    line.update('a 2/2');
    line.log('done');
    assert.equal(out, '\r\x1b[2Ka 1/2\r\x1b[2Ka 2/2\r\x1b[2Kdone\n');
  });

  test('in a pipe or a CI log only changes are printed, one per line', () => {
    let out = '';
    const line = new StatusLine({ write: (s: string) => (out += s) });
    line.update('a 1/2');
    line.update('a 1/2');
    line.update('a 2/2');
    line.log('done');
    assert.equal(out, 'a 1/2\na 2/2\ndone\n');
  });
});
