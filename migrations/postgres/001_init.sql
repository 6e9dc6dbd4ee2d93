-- meshcp's schema on PostgreSQL: the same tables as the SQLite migrations 001-004 end with.
-- Names and mesh names sort byte-wise (COLLATE "C"), as on SQLite, so list order and paging agree on both stores.
-- Specs are bytes: JSON for most types, AES-256-GCM ciphertext for secrets. Times in dataplane_facts are epoch ms.
CREATE TABLE resources (
  type              TEXT COLLATE "C" NOT NULL,
  mesh              TEXT COLLATE "C" NOT NULL DEFAULT '',
  name              TEXT COLLATE "C" NOT NULL,
  spec              BYTEA   NOT NULL,
  labels            TEXT    NOT NULL DEFAULT '{}',
  creation_time     TEXT    NOT NULL,
  modification_time TEXT    NOT NULL,
  version           BIGINT  NOT NULL DEFAULT 1,
  PRIMARY KEY (type, mesh, name)
);

CREATE TABLE dataplane_facts (
  mesh                 TEXT COLLATE "C" NOT NULL,
  name                 TEXT COLLATE "C" NOT NULL,
  issued_backend       TEXT,
  identity             TEXT,
  cert_not_before      BIGINT,
  cert_not_after       BIGINT NOT NULL DEFAULT 0,
  renew_after          BIGINT,
  regenerations        BIGINT NOT NULL DEFAULT 0,
  last_issue_time      BIGINT,
  acked_bundle_version TEXT,
  last_contact         BIGINT,
  issued_serial        TEXT,
  served_serial        TEXT,
  served_backend       TEXT,
  PRIMARY KEY (mesh, name)
);
CREATE INDEX dataplane_facts_issued ON dataplane_facts (mesh, issued_backend, cert_not_after);
CREATE INDEX dataplane_facts_served ON dataplane_facts (mesh, served_backend, cert_not_after);
CREATE INDEX dataplane_facts_fleet ON dataplane_facts (mesh, acked_bundle_version, issued_backend, served_backend, cert_not_after, last_contact);
CREATE INDEX dataplane_facts_contact ON dataplane_facts (last_contact);

CREATE TABLE bundle_versions (
  mesh            TEXT COLLATE "C" NOT NULL,
  version         TEXT COLLATE "C" NOT NULL,
  enabled_backend TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  PRIMARY KEY (mesh, version)
);

CREATE TABLE bundle_version_backends (
  mesh        TEXT COLLATE "C" NOT NULL,
  version     TEXT COLLATE "C" NOT NULL,
  backend     TEXT COLLATE "C" NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (mesh, version, backend)
);
CREATE INDEX bundle_version_backends_by_backend ON bundle_version_backends (mesh, backend, fingerprint, version);
