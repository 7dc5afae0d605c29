DROP TABLE alert_deliveries;
DROP TABLE alert_throttle;
ALTER TABLE alert_rules DROP COLUMN filters;
ALTER TABLE alert_rules DROP COLUMN secret;
