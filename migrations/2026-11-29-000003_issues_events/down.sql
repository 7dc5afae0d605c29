DROP TABLE events;
DROP TABLE issues;
