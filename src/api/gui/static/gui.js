// The rotation view (/meshcp-gui, and /gui without a kuma-gui build): reads /meshcp-gui/api/state (admin) in a long-poll loop and redraws. Everything from the server is put in
// the page as text (textContent), never as HTML.
const TOKEN_KEY = 'meshcp-admin-token';
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const date = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}
function daysLeft(iso) {
  if (!iso) return '';
  const days = Math.floor((new Date(iso).getTime() - Date.now()) / 86_400_000);
  return days < 0 ? 'expired' : `${days} days left`;
}

function progress(label, count, total) {
  const pct = total === 0 ? 0 : Math.round((100 * count) / total);
  const fill = el('div');
  fill.style.width = `${pct}%`;
  return el('div', { class: 'progress', 'data-progress': label },
    el('span', { text: label }),
    el('div', { class: `bar${total > 0 && count === total ? ' done' : ''}` }, fill),
    el('span', { class: 'mono', text: `${count} / ${total}` }));
}

function backendsTable(rotation) {
  const rows = rotation.backends.map((b) => el('tr', {},
    el('td', {}, el('strong', { text: b.name }), ' ', b.enabled ? el('span', { class: 'badge enabled', text: 'enabled' }) : null),
    el('td', { text: b.type }),
    el('td', { class: 'mono', title: b.rootFingerprint ?? '', text: b.rootFingerprint ? `${b.rootFingerprint.slice(0, 23)}…` : '—' }),
    el('td', { text: `${date(b.notAfter)} (${daysLeft(b.notAfter)})` })));
  return el('table', {}, el('thead', {}, el('tr', {}, ...['Backend', 'Type', 'Root SHA-256', 'CA expires'].map((h) => el('th', { text: h })))),
    el('tbody', {}, ...rows));
}

function rotationView(rotation) {
  const view = el('div', { class: 'rotation' });
  const active = rotation.activeDataplanes;
  if (rotation.backends.length > 1) {
    for (const b of rotation.backends) {
      view.append(progress(`trust ${b.name}`, b.dataplanesTrusting, active), progress(`re-issued by ${b.name}`, b.dataplanesIssued, active));
    }
  }
  const step = rotation.nextStep;
  const waiting = step.waitingFor && step.waitingFor.count > 0 ? step.waitingFor : null;
  const more = waiting ? waiting.count - waiting.names.length : 0;
  view.append(el('div', { class: 'step', 'data-next-step': step.action },
    el('strong', { text: step.action === 'none' ? 'No rotation in progress' : `Next step: ${step.action} ${step.backend}` }), ' ',
    step.action === 'none' ? null : el('span', { class: `badge ${step.ready ? 'ready' : 'waiting'}`, text: step.ready ? 'ready' : 'waiting' }),
    el('div', { class: 'muted', text: step.description }),
    waiting ? el('div', { class: 'waiting-for', 'data-waiting-for': '', text: `waiting for: ${waiting.names.join(', ')}${more > 0 ? ` and ${more} more` : ''}` }) : null));
  return view;
}

/** The new identity model: each MeshIdentity with its dataplanes, and where the cut-over from Mesh.mtls stands. */
function identityView(identity, active) {
  const rows = identity.identities.map((i) => el('tr', { 'data-identity': i.name },
    el('td', {}, el('strong', { text: i.name }), ' ', el('span', { class: `badge ${i.ready ? 'ready' : 'waiting'}`, text: i.ready ? 'Ready' : 'not Ready' })),
    el('td', { class: 'muted', text: i.reason ?? '' }),
    el('td', { class: 'mono', text: `${i.dataplanesSelected}` }),
    el('td', { class: 'mono', text: `${i.dataplanesIssued}` }),
    el('td', { class: 'mono', text: i.dataplanesTrusting === null ? 'no MeshTrust' : `${i.dataplanesTrusting} / ${active}` })));
  const c = identity.cutOver;
  return el('div', {},
    el('table', {}, el('thead', {}, el('tr', {}, ...['MeshIdentity', 'Why not Ready', 'Wins', 'Issued', 'Trust its CA'].map((h) => el('th', { text: h })))), el('tbody', {}, ...rows)),
    el('div', { class: 'step', 'data-cut-over': c.mtlsRemovable ? 'ready' : 'waiting' },
      el('strong', { text: 'Cut-over from Mesh.mtls' }), ' ',
      el('span', { class: `badge ${c.mtlsRemovable ? 'ready' : 'waiting'}`, text: c.mtlsRemovable ? 'Mesh.mtls can go' : 'waiting' }),
      el('div', { class: 'muted', text: `${c.legacyCertificates} on a Mesh.mtls certificate · ${c.withoutReadyIdentity} without a Ready identity` })));
}

function dataplanesTable(mesh) {
  if (mesh.dataplanes.length === 0) return el('p', { class: 'muted', text: 'No dataplane has contacted the control plane yet.' });
  const rows = mesh.dataplanes.map((d) => el('tr', { 'data-dataplane': d.name },
    el('td', {}, el('strong', { text: d.name }), ' ', d.online ? null : el('span', { class: 'badge offline', text: 'offline' })),
    el('td', { text: d.issuedBackend ?? '—' }),
    el('td', { text: d.trustedBackends.join(', ') || '—' }),
    el('td', { text: date(d.certNotAfter) }),
    el('td', { text: ago(d.lastSeen) })));
  const shown = mesh.dataplanes.length < mesh.dataplanesTotal ? el('p', { class: 'muted', text: `first ${mesh.dataplanes.length} of ${mesh.dataplanesTotal} by name` }) : null;
  return el('div', {}, el('table', {}, el('thead', {}, el('tr', {}, ...['Dataplane', 'Issued by', 'Trusts', 'Certificate expires', 'Last seen'].map((h) => el('th', { text: h })))),
    el('tbody', {}, ...rows)), shown);
}

function render(state) {
  const sections = state.meshes.map((mesh) => {
    const r = mesh.rotation;
    return el('section', { class: 'mesh', 'data-mesh': mesh.name },
      el('h2', { text: `Mesh ${mesh.name}` }),
      el('div', { class: 'muted', text: r.mtlsEnabled ? `mTLS on, issuing from ${r.enabledBackend} · ${r.activeDataplanes} active dataplanes` : 'mTLS off' }),
      r.error ? el('p', { class: 'error', text: r.error }) : null,
      r.backends.length ? el('h3', { text: 'mTLS backends' }) : null,
      r.backends.length ? backendsTable(r) : null,
      r.mtlsEnabled ? el('h3', { text: 'CA rotation' }) : null,
      r.mtlsEnabled ? rotationView(r) : null,
      mesh.identity ? el('h3', { text: 'MeshIdentity' }) : null,
      mesh.identity ? identityView(mesh.identity, r.activeDataplanes) : null,
      el('h3', { text: 'Dataplanes' }),
      dataplanesTable(mesh));
  });
  $('meshes').replaceChildren(...sections);
}

function setLive(state, text) {
  $('live').dataset.state = state;
  $('live').textContent = text;
}

async function poll() {
  let since;
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    let response;
    try {
      response = await fetch(`/meshcp-gui/api/state${since ? `?since=${encodeURIComponent(since)}` : ''}`, { headers, cache: 'no-store' });
    } catch {
      setLive('error', 'control plane unreachable, retrying…');
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (response.status === 401 || response.status === 403) {
      if (token) {
        sessionStorage.removeItem(TOKEN_KEY);
        $('login-error').hidden = false;
        $('login-error').textContent = 'That token was not accepted.';
      }
      $('login').hidden = false;
      setLive('error', 'admin token needed');
      await new Promise((resolve) => $('login').addEventListener('submit', resolve, { once: true }));
      continue;
    }
    if (!response.ok) {
      setLive('error', `error ${response.status}, retrying…`);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    const state = await response.json();
    since = state.version;
    $('login').hidden = true;
    setLive('live', `live · updated ${new Date().toLocaleTimeString()}`);
    render(state);
  }
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
  $('token').value = '';
});
poll();
