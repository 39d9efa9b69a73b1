-- Tasks get a priority, 1 (highest) to 5; existing tasks become 3.
ALTER TABLE tasks ADD COLUMN priority integer NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5);
CREATE INDEX tasks_open_by_priority ON tasks (priority) WHERE NOT done;
