-- Kuma's GUI and insights (issue 22); the same as SQLite's 005.
-- online_since: when the dataplane's current (or last) online stretch began (its subscription's connectTime).
ALTER TABLE dataplane_facts ADD COLUMN online_since BIGINT;
UPDATE dataplane_facts SET online_since = last_contact;

-- What the insights count of each Dataplane, written with it: proxy type and services (JSON array, sorted, distinct).
CREATE TABLE dataplane_profiles (
  mesh       TEXT COLLATE "C" NOT NULL,
  name       TEXT COLLATE "C" NOT NULL,
  proxy_type TEXT NOT NULL,
  services   TEXT NOT NULL,
  PRIMARY KEY (mesh, name)
);
CREATE INDEX dataplane_profiles_by_type ON dataplane_profiles (mesh, proxy_type, name);

-- Counts kept with every Dataplane write ('type' -> proxy type; 'service:<proxy type>' -> service); 0 is deleted.
CREATE TABLE fleet_counts (
  mesh TEXT COLLATE "C" NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  key  TEXT COLLATE "C" NOT NULL,
  n    BIGINT NOT NULL,
  PRIMARY KEY (mesh, kind, key)
);

INSERT INTO dataplane_profiles (mesh, name, proxy_type, services)
  SELECT r.mesh, r.name,
    CASE WHEN d.spec -> 'networking' -> 'gateway' IS NULL THEN 'standard'
         WHEN d.spec -> 'networking' -> 'gateway' ->> 'type' = 'BUILTIN' THEN 'gatewayBuiltin'
         ELSE 'gatewayDelegated' END,
    COALESCE((SELECT array_to_json(array_agg(s ORDER BY s))::text FROM (
      SELECT DISTINCT s FROM (
        SELECT i -> 'tags' ->> 'kuma.io/service' AS s
          FROM jsonb_array_elements(COALESCE(d.spec -> 'networking' -> 'inbound', '[]'::jsonb)) i
        UNION ALL SELECT d.spec -> 'networking' -> 'gateway' -> 'tags' ->> 'kuma.io/service'
      ) all_services WHERE s IS NOT NULL AND s <> '') distinct_services), '[]')
  FROM resources r, LATERAL (SELECT convert_from(r.spec, 'UTF8')::jsonb AS spec) d
  WHERE r.type = 'Dataplane';
INSERT INTO fleet_counts (mesh, kind, key, n)
  SELECT mesh, 'type', proxy_type, COUNT(*) FROM dataplane_profiles GROUP BY mesh, proxy_type;
INSERT INTO fleet_counts (mesh, kind, key, n)
  SELECT p.mesh, 'service:' || p.proxy_type, s.value, COUNT(*)
  FROM dataplane_profiles p, jsonb_array_elements_text(p.services::jsonb) s
  GROUP BY p.mesh, p.proxy_type, s.value;
