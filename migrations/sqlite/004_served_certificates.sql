-- What proxies serve, not only what was issued: an agent that reloads its proxy reports the serial it serves after
-- each successful reload. issued_serial is the serial of the newest issued certificate; when the report names it,
-- served_backend becomes its backend. Until then the dataplane still counts as holding a certificate from the
-- backend it served before (NULL for dataplanes that never report: they keep counting by issued_backend alone).
ALTER TABLE dataplane_facts ADD COLUMN issued_serial TEXT;
ALTER TABLE dataplane_facts ADD COLUMN served_serial TEXT;
ALTER TABLE dataplane_facts ADD COLUMN served_backend TEXT;
CREATE INDEX dataplane_facts_served ON dataplane_facts (mesh, served_backend, cert_not_after);
-- The rotation status groups by served_backend too: keep its scan covering.
DROP INDEX dataplane_facts_fleet;
CREATE INDEX dataplane_facts_fleet ON dataplane_facts (mesh, acked_bundle_version, issued_backend, served_backend, cert_not_after, last_contact);
