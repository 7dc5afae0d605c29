DROP TABLE alert_rules;
DROP TABLE api_keys;
DROP TABLE projects;
