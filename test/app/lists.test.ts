import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.js';
import { b64, expectError, json } from '../helpers/api-assert.js';

type Item = { type: string; mesh?: string; name: string; labels?: Record<string, string> };
type Page = { total: number; items: Item[]; next: string | null };
const LIST = 'Could not retrieve resources';

describe('lists', () => {
  let t: TestApp;
  // Created out of order on purpose: the lists must sort, not return insertion order.
  const meshes = ['m-c', 'alpha', 'm-a', 'm-b'];
  before(async () => {
    t = await createTestApp({}, { defaultMesh: false });
    for (const name of meshes) {
      const labels = name.startsWith('m-') ? { team: name === 'm-b' ? 'blue' : 'red', tier: 'one' } : { team: 'blue' };
      const res = await t.app.inject(json('PUT', `/meshes/${name}`, { type: 'Mesh', name, labels }));
      assert.equal(res.statusCode, 201);
    }
    const put = async (mesh: string, name: string, labels?: Record<string, string>) => {
      const res = await t.app.inject(
        json('PUT', `/meshes/${mesh}/secrets/${name}`, { type: 'Secret', mesh, name, data: b64(name), labels }),
      );
      assert.equal(res.statusCode, 201, res.body);
    };
    await put('m-b', 'zeta', { kind: 'user' });
    await put('m-b', 'alpha-sec', { kind: 'user' });
    await put('m-a', 'zeta');
    await put('alpha', 'beta', { kind: 'user' });
    // 105 global secrets: more than a default page.
    for (let i = 104; i >= 0; i--) {
      const name = `g-${String(i).padStart(3, '0')}`;
      const res = await t.app.inject(
        json('PUT', `/global-secrets/${name}`, { type: 'GlobalSecret', name, data: b64(name) }),
      );
      assert.equal(res.statusCode, 201);
    }
  });
  after(async () => {
    await t.close();
  });

  const list = async (url: string, headers: Record<string, string> = {}): Promise<Page> => {
    const res = await t.app.inject({ method: 'GET', url, headers });
    assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`);
    const body = res.json() as Page;
    assert.deepEqual(Object.keys(body), ['total', 'items', 'next']);
    return body;
  };
  const names = (page: Page) => page.items.map((i) => i.name);
  const ids = (page: Page) => page.items.map((i) => `${i.mesh}/${i.name}`);
  /** inject() speaks to host localhost:80, so that is the host of `next`. */
  const pathOf = (next: string) => {
    const url = new URL(next);
    return url.pathname + url.search;
  };

  it('{total, items, next}, sorted by name, next null when everything fits', async () => {
    const page = await list('/meshes');
    assert.deepEqual(names(page), ['alpha', 'm-a', 'm-b', 'm-c']);
    assert.equal(page.total, 4);
    assert.equal(page.next, null);
    assert.ok(page.items.every((m) => m.type === 'Mesh'));
  });

  it('cross-mesh /secrets is sorted by mesh, then name', async () => {
    const page = await list('/secrets');
    assert.deepEqual(ids(page), [
      'alpha/beta',
      'alpha/dataplane-token-signing-key-alpha-1',
      'm-a/dataplane-token-signing-key-m-a-1',
      'm-a/zeta',
      'm-b/alpha-sec',
      'm-b/dataplane-token-signing-key-m-b-1',
      'm-b/zeta',
      'm-c/dataplane-token-signing-key-m-c-1',
    ]);
    assert.equal(page.total, 8);
    assert.deepEqual(names(await list('/meshes/m-b/secrets')), [
      'alpha-sec',
      'dataplane-token-signing-key-m-b-1',
      'zeta',
    ]);
  });

  it('size defaults to 100 and may be up to 1000', async () => {
    const first = await list('/global-secrets');
    assert.equal(first.total, 105);
    assert.equal(first.items.length, 100);
    assert.equal(first.items[0]!.name, 'g-000');
    assert.equal(first.items[99]!.name, 'g-099');
    assert.equal(first.next, 'http://localhost:80/global-secrets?offset=100');
    const second = await list(pathOf(first.next!));
    assert.deepEqual(names(second), ['g-100', 'g-101', 'g-102', 'g-103', 'g-104']);
    assert.equal(second.total, 105);
    assert.equal(second.next, null);

    const all = await list('/global-secrets?size=1000');
    assert.equal(all.items.length, 105);
    assert.equal(all.next, null);
    assert.deepEqual(await list('/globalsecrets?size=1000'), all);
  });

  it('next is an absolute URL that keeps the other parameters, and following it pages through everything', async () => {
    const first = await list('/meshes?size=2');
    assert.deepEqual(names(first), ['alpha', 'm-a']);
    assert.equal(first.total, 4);
    assert.equal(first.next, 'http://localhost:80/meshes?offset=2&size=2');
    const second = await list(pathOf(first.next!));
    assert.deepEqual(names(second), ['m-b', 'm-c']);
    assert.equal(second.total, 4);
    assert.equal(second.next, null);

    const filtered = await list('/meshes?size=1&name=m-&filter%5Blabels.tier%5D=one');
    assert.equal(filtered.next, 'http://localhost:80/meshes?filter%5Blabels.tier%5D=one&name=m-&offset=1&size=1');
    const seen: string[] = [];
    let page: Page = filtered;
    for (let guard = 0; guard < 10; guard++) {
      seen.push(...names(page));
      assert.equal(page.total, 3);
      if (page.next === null) break;
      page = await list(pathOf(page.next));
    }
    assert.deepEqual(seen, ['m-a', 'm-b', 'm-c']);

    const scoped = await list('/meshes/m-b/secrets?size=1&offset=1');
    assert.deepEqual(names(scoped), ['dataplane-token-signing-key-m-b-1']);
    assert.equal(scoped.next, 'http://localhost:80/meshes/m-b/secrets?offset=2&size=1');
  });

  it('next is built from the Host header of the request', async () => {
    const page = await list('/meshes?size=3', { host: 'cp.example.com:5681', authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(page.next, 'http://cp.example.com:5681/meshes?offset=3&size=3');
  });

  it('an offset past the end is an empty page; total still counts every match', async () => {
    const page = await list('/meshes?offset=10');
    assert.deepEqual(page, { total: 4, items: [], next: null });
    const last = await list('/meshes?offset=3&size=1');
    assert.deepEqual(names(last), ['m-c']);
    assert.equal(last.next, null);
  });

  it('name is a substring match', async () => {
    const page = await list('/meshes?name=-');
    assert.deepEqual(names(page), ['m-a', 'm-b', 'm-c']);
    assert.equal(page.total, 3);
    assert.deepEqual(names(await list('/meshes?name=lph')), ['alpha']);
    assert.deepEqual(await list('/meshes?name=nothing'), { total: 0, items: [], next: null });
    assert.deepEqual(ids(await list('/secrets?name=zeta')), ['m-a/zeta', 'm-b/zeta']);
    const g = await list('/global-secrets?name=g-10');
    assert.deepEqual(names(g), ['g-100', 'g-101', 'g-102', 'g-103', 'g-104']);
    // A substring, not a pattern.
    assert.equal((await list('/meshes?name=m_a')).total, 0);
    assert.equal((await list('/meshes?name=%25')).total, 0);
  });

  it('filter[labels.key]=value matches labels exactly, several filters must all match', async () => {
    assert.deepEqual(names(await list('/meshes?filter[labels.team]=blue')), ['alpha', 'm-b']);
    assert.deepEqual(names(await list('/meshes?filter[labels.team]=blue&filter[labels.tier]=one')), ['m-b']);
    assert.deepEqual(names(await list('/meshes?filter%5Blabels.team%5D=red')), ['m-a', 'm-c']);
    assert.equal((await list('/meshes?filter[labels.team]=blu')).total, 0);
    assert.equal((await list('/meshes?filter[labels.nope]=blue')).total, 0);
    assert.deepEqual(ids(await list('/secrets?filter[labels.kind]=user')), ['alpha/beta', 'm-b/alpha-sec', 'm-b/zeta']);
    assert.deepEqual(ids(await list('/secrets?filter[labels.kind]=user&name=zeta')), ['m-b/zeta']);
    assert.deepEqual(names(await list('/meshes/m-b/secrets?filter[labels.kind]=user')), ['alpha-sec', 'zeta']);
  });

  describe("bad parameters get Kuma's 400s on every list route", () => {
    const routes = [
      '/meshes',
      '/meshes/m-a/secrets',
      '/secrets',
      '/global-secrets',
      '/globalsecrets',
      '/dataplanes',
      '/meshes/m-a/dataplanes',
    ];
    /** Kuma names the field after the route's template, not the URL. */
    const templateOf = (route: string) => route.replace('/meshes/m-a/', '/meshes/{mesh}/');
    const sizeCases: [string, string, string][] = [
      ['size=abc', 'size', 'invalid format'],
      ['size=1.5', 'size', 'invalid format'],
      ['size=0', 'size', 'must be greater than 0'],
      ['size=-1', 'size', 'must be greater than 0'],
      ['size=1001', 'size', 'invalid page size of 1001. Maximum page size is 1000'],
      ['size=2000', 'size', 'invalid page size of 2000. Maximum page size is 1000'],
    ];
    for (const route of routes) {
      it(route, async () => {
        for (const [query, field, reason] of sizeCases) {
          expectError(await t.app.inject({ method: 'GET', url: `${route}?${query}` }), {
            status: 400,
            title: LIST,
            detail: 'Invalid page size',
            params: [{ field, reason }],
          });
        }
        expectError(await t.app.inject({ method: 'GET', url: `${route}?offset=invalid` }), {
          status: 400,
          title: LIST,
          detail: 'invalid: invalid offset: strconv.Atoi: parsing "invalid": invalid syntax',
          params: [],
        });
        expectError(await t.app.inject({ method: 'GET', url: `${route}?offset=-1` }), {
          status: 400,
          title: LIST,
          detail: 'invalid: invalid offset: must be non-negative',
          params: [],
        });
        const path = templateOf(route);
        expectError(await t.app.inject({ method: 'GET', url: `${route}?filter[name]=x` }), {
          status: 400,
          title: LIST,
          params: [{ field: `${path}.filter[name]`, reason: 'filters are only supported on labels' }],
        });
        expectError(await t.app.inject({ method: 'GET', url: `${route}?filter[labels.team][eq]=x` }), {
          status: 400,
          title: LIST,
          params: [{ field: `${path}.filter[labels.team][eq]`, reason: 'advanced filters are not supported' }],
        });
        // The limits themselves are fine.
        assert.equal((await t.app.inject({ method: 'GET', url: `${route}?size=1000&offset=0` })).statusCode, 200);
        assert.equal((await t.app.inject({ method: 'GET', url: `${route}?size=1` })).statusCode, 200);
      });
    }
  });
});
