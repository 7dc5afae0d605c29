DROP TABLE issue_values;
