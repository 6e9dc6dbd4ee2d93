-- Every Kuma-style resource (Mesh, Secret, GlobalSecret, Dataplane) lives in one table.
-- Global types use mesh = ''. The primary key order gives the "by mesh, then name" list order for free.
-- Secret specs are AES-256-GCM ciphertext; other specs are JSON text.
CREATE TABLE resources (
  type              TEXT    NOT NULL,
  mesh              TEXT    NOT NULL DEFAULT '',
  name              TEXT    NOT NULL,
  spec              BLOB    NOT NULL,
  labels            TEXT    NOT NULL DEFAULT '{}',
  creation_time     TEXT    NOT NULL,
  modification_time TEXT    NOT NULL,
  version           INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (type, mesh, name)
) WITHOUT ROWID;

-- What the control plane knows about each dataplane's certificate and acknowledged trust bundle.
-- Times are milliseconds since the epoch.
CREATE TABLE dataplane_facts (
  mesh                 TEXT    NOT NULL,
  name                 TEXT    NOT NULL,
  issued_backend       TEXT,
  identity             TEXT,    -- hash of the URI SANs the current certificate carries
  cert_not_before      INTEGER,
  cert_not_after       INTEGER NOT NULL DEFAULT 0,
  renew_after          INTEGER,
  regenerations        INTEGER NOT NULL DEFAULT 0,
  last_issue_time      INTEGER,
  acked_bundle_version TEXT,
  last_contact         INTEGER,
  PRIMARY KEY (mesh, name)
) WITHOUT ROWID;
CREATE INDEX dataplane_facts_active ON dataplane_facts (mesh, cert_not_after);
CREATE INDEX dataplane_facts_issued ON dataplane_facts (mesh, issued_backend, cert_not_after);

-- The backends (and the exact root material) in the bundle each dataplane acknowledged holding.
CREATE TABLE dataplane_trust (
  mesh             TEXT NOT NULL,
  name             TEXT NOT NULL,
  backend          TEXT NOT NULL,
  root_fingerprint TEXT NOT NULL,
  PRIMARY KEY (mesh, name, backend)
) WITHOUT ROWID;
CREATE INDEX dataplane_trust_by_backend ON dataplane_trust (mesh, backend, root_fingerprint, name);

-- Every trust bundle a mesh has served, so an acknowledged version maps back to the roots it held.
CREATE TABLE bundle_versions (
  mesh            TEXT NOT NULL,
  version         TEXT NOT NULL,
  enabled_backend TEXT NOT NULL,
  backends        TEXT NOT NULL, -- JSON [{"name","fingerprint"}]
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (mesh, version)
) WITHOUT ROWID;
