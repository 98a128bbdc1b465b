-- national.sql - the national database (全国): every province's tables, side by side
--
-- Run once on the national database (psql -f national.sql), then subscribe.sql once per
-- province. Each province publishes its tables as `edu_province` (edu-province's migration 3);
-- logical replication matches tables by schema and name, so the tables below are the
-- province's, column for column (province/schema.c). Every key starts with the county code,
-- unique in China, so one table holds the union of all provinces. A province's rows arrive
-- as it stores them: an approved year, a withdrawal (unlock or return: rows marked
-- withdrawn), an acceptance. Nothing here is written but by the subscriptions.
--
-- The views in schema `national` are what people read: the province is the county code's
-- first two digits (43 湖南, 44 广东, ...).
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS province;
CREATE SCHEMA IF NOT EXISTS national;

CREATE TABLE province.county (
  code text PRIMARY KEY, name text NOT NULL, protocol integer);
CREATE TABLE province.indicator_row (
  county_code text NOT NULL, stage text NOT NULL, indicator text NOT NULL,
  period text NOT NULL, schools integer NOT NULL, mean double precision,
  min double precision, max double precision, cv double precision,
  red integer NOT NULL, yellow integer NOT NULL, green integer NOT NULL,
  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),
  withdrawn boolean NOT NULL DEFAULT false,
  PRIMARY KEY (county_code, stage, indicator, period));
CREATE TABLE province.warning_row (
  county_code text NOT NULL, kind text NOT NULL, stage text NOT NULL,
  indicator text NOT NULL, period text NOT NULL, level text NOT NULL,
  value double precision, detail text NOT NULL, version bigint NOT NULL,
  withdrawn boolean NOT NULL DEFAULT false,
  PRIMARY KEY (county_code, kind, stage, indicator, period));
CREATE TABLE province.period_row (
  county_code text NOT NULL, period text NOT NULL, state text NOT NULL,
  changed_at timestamptz, approved_at timestamptz, accepted_at timestamptz, note text,
  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (county_code, period));
CREATE TABLE province.period_event (
  county_code text NOT NULL, version bigint NOT NULL, period text NOT NULL,
  state text NOT NULL, changed_at timestamptz, note text,
  PRIMARY KEY (county_code, version, period));
CREATE TABLE province.late_change (
  county_code text NOT NULL, version bigint NOT NULL, seq integer NOT NULL,
  school_code text NOT NULL, indicator text, period text NOT NULL,
  old_value double precision, new_value double precision, received_at timestamptz,
  kind text NOT NULL, note text,
  PRIMARY KEY (county_code, version, seq));
CREATE TABLE province.county_case (
  county_code text NOT NULL, case_id bigint NOT NULL, kind text NOT NULL,
  subject text NOT NULL, stage text, indicator text, period text, level text,
  state text NOT NULL, escalated boolean NOT NULL, due date, version bigint NOT NULL,
  PRIMARY KEY (county_code, case_id));

-- the contract's views, for the whole country
CREATE VIEW national.county_indicator AS
  SELECT left(county_code, 2) AS province_code, county_code, stage, indicator, period, schools,
    mean, cv, red, yellow, green
  FROM province.indicator_row WHERE NOT withdrawn;
CREATE VIEW national.county_period AS
  SELECT left(county_code, 2) AS province_code, county_code, period, state, approved_at,
    accepted_at
  FROM province.period_row;
CREATE VIEW national.county_warning AS
  SELECT left(county_code, 2) AS province_code, county_code, kind, stage, indicator, period,
    level, value, detail
  FROM province.warning_row WHERE level <> 'green' AND NOT withdrawn;

-- per province and year: the province's counties, how many approved the year (accepted ones
-- included) and were accepted, and how many meet the standard (county_balanced green) per
-- stage: 优质均衡达标率 = balanced_primary / counties
CREATE VIEW national.province_year AS
  WITH y AS (SELECT left(county_code, 2) AS province_code, period,
      count(*) FILTER (WHERE state IN ('approved', 'accepted')) AS approved,
      count(*) FILTER (WHERE state = 'accepted') AS accepted
    FROM province.period_row GROUP BY 1, 2),
  b AS (SELECT left(county_code, 2) AS province_code, period,
      count(*) FILTER (WHERE stage = 'primary') AS balanced_primary,
      count(*) FILTER (WHERE stage = 'junior') AS balanced_junior
    FROM province.warning_row
    WHERE kind = 'county_balanced' AND level = 'green' AND NOT withdrawn GROUP BY 1, 2),
  n AS (SELECT left(code, 2) AS province_code, count(*) AS counties
    FROM province.county GROUP BY 1)
  SELECT y.province_code, y.period, coalesce(n.counties, 0) AS counties, y.approved,
    y.accepted, coalesce(b.balanced_primary, 0) AS balanced_primary,
    coalesce(b.balanced_junior, 0) AS balanced_junior
  FROM y LEFT JOIN n USING (province_code) LEFT JOIN b USING (province_code, period);
