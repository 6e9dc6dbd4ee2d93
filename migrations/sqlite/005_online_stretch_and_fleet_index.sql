-- Kuma's GUI and insights (issue 22).
-- online_since: when the dataplane's current (or last) online stretch began, i.e. the first contact after a gap longer
-- than the online window. It is the `connectTime` of the dataplane's subscription; a row written before this
-- migration starts its stretch at its last contact.
ALTER TABLE dataplane_facts ADD COLUMN online_since INTEGER;
UPDATE dataplane_facts SET online_since = last_contact;
-- Online counts (mesh insights, global insight) range over recent contacts only.
CREATE INDEX dataplane_facts_contact ON dataplane_facts (last_contact, mesh);

-- What the insights count of each Dataplane, written with it: its proxy type (standard, gatewayBuiltin,
-- gatewayDelegated) and its services (JSON array of kuma.io/service values, sorted, distinct).
CREATE TABLE dataplane_profiles (
  mesh       TEXT NOT NULL,
  name       TEXT NOT NULL,
  proxy_type TEXT NOT NULL,
  services   TEXT NOT NULL,
  PRIMARY KEY (mesh, name)
) WITHOUT ROWID;
CREATE INDEX dataplane_profiles_by_type ON dataplane_profiles (mesh, proxy_type, name);

-- Counts kept with every Dataplane write, so the insights read a few rows whatever the fleet size:
-- kind 'type' (key: proxy type) counts dataplanes; kind 'service:<proxy type>' (key: service) counts the dataplanes
-- of that type naming the service. A count that reaches 0 is deleted.
CREATE TABLE fleet_counts (
  mesh TEXT NOT NULL,
  kind TEXT NOT NULL,
  key  TEXT NOT NULL,
  n    INTEGER NOT NULL,
  PRIMARY KEY (mesh, kind, key)
) WITHOUT ROWID;

INSERT INTO dataplane_profiles (mesh, name, proxy_type, services)
  SELECT r.mesh, r.name,
    CASE WHEN json_extract(CAST(r.spec AS TEXT), '$.networking.gateway') IS NULL THEN 'standard'
         WHEN json_extract(CAST(r.spec AS TEXT), '$.networking.gateway.type') = 'BUILTIN' THEN 'gatewayBuiltin'
         ELSE 'gatewayDelegated' END,
    COALESCE((SELECT json_group_array(s) FROM (
      SELECT DISTINCT s FROM (
        SELECT json_extract(i.value, '$.tags."kuma.io/service"') AS s FROM json_each(CAST(r.spec AS TEXT), '$.networking.inbound') i
        UNION ALL SELECT json_extract(CAST(r.spec AS TEXT), '$.networking.gateway.tags."kuma.io/service"')
      ) WHERE s IS NOT NULL AND s <> '' ORDER BY s)), '[]')
  FROM resources r WHERE r.type = 'Dataplane';
INSERT INTO fleet_counts (mesh, kind, key, n)
  SELECT mesh, 'type', proxy_type, COUNT(*) FROM dataplane_profiles GROUP BY mesh, proxy_type;
INSERT INTO fleet_counts (mesh, kind, key, n)
  SELECT p.mesh, 'service:' || p.proxy_type, s.value, COUNT(*) FROM dataplane_profiles p, json_each(p.services) s
  GROUP BY p.mesh, p.proxy_type, s.value;
