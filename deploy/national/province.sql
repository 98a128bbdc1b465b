-- province.sql - at a province: let the national database read the publication
--
--   psql -d province -v password=... -f province.sql
--
-- edu-province publishes its tables itself (publication edu_province, migration 3). Three
-- things are the province database's administrator's, as superuser:
--   1. postgresql.conf: wal_level = logical (restart), max_replication_slots and
--      max_wal_senders at least the subscribers plus two for the initial copy;
--   2. pg_hba.conf: a `host replication`-free line is enough (logical replication connects
--      to the database itself): host province edu_national NATIONAL_ADDRESS/32 scram-sha-256;
--   3. the role below: it may replicate and read the published tables, nothing else.
CREATE ROLE edu_national LOGIN REPLICATION PASSWORD :'password';
GRANT USAGE ON SCHEMA province TO edu_national;
GRANT SELECT ON province.county, province.indicator_row, province.warning_row,
  province.period_row, province.period_event, province.late_change, province.county_case
  TO edu_national;
