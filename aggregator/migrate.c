/*  migrate - brings the county's schema (edu) up to date */
#include "migrate.h"

#include "log.h"
#include "pg.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static const pg_migration_t s_migrations[] = {
    {1, "observations, refusals and per-spool high-water marks",
     // Every accepted record, once, with the spool position it came from (the history).
     "CREATE TABLE edu.observation_log ("
     "  school_code text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  value double precision NOT NULL,"
     "  received_at timestamptz NOT NULL,"
     "  sender text NOT NULL,"
     "  spool_id text NOT NULL,"
     "  seq bigint NOT NULL,"
     "  source_file text,"
     "  source_row integer);"
     "CREATE INDEX observation_log_key ON edu.observation_log (school_code, indicator, period);"
     // The latest accepted value per school x indicator x period, maintained per batch.
     "CREATE TABLE edu.current_value ("
     "  school_code text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  value double precision NOT NULL,"
     "  received_at timestamptz NOT NULL,"
     "  PRIMARY KEY (school_code, indicator, period));"
     // Every refused record, once, with the reason in the contract's words.
     "CREATE TABLE edu.rejected_log ("
     "  school_code text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  value double precision,"
     "  reason text NOT NULL,"
     "  column_name text NOT NULL,"
     "  detail text NOT NULL,"
     "  received_at timestamptz NOT NULL,"
     "  sender text NOT NULL,"
     "  spool_id text NOT NULL,"
     "  seq bigint NOT NULL,"
     "  source_file text,"
     "  source_row integer);"
     "CREATE INDEX rejected_log_spool ON edu.rejected_log (sender, spool_id, seq);"
     // Exactly-once: the highest committed seq of each collector spool, per sending school.
     "CREATE TABLE edu.spool_state ("
     "  sender text NOT NULL,"
     "  spool_id text NOT NULL,"
     "  hwm bigint NOT NULL,"
     "  updated_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (sender, spool_id));"
     // The contract's views: what acceptance tests and people read.
     "CREATE VIEW edu.observation AS"
     "  SELECT school_code, indicator, period, value, received_at FROM edu.observation_log;"
     "CREATE VIEW edu.current_observation AS"
     "  SELECT school_code, indicator, period, value FROM edu.current_value;"
     "CREATE VIEW edu.rejected_record AS"
     "  SELECT school_code, indicator, period, reason, received_at FROM edu.rejected_log;"},
    {2, "red, yellow and green warnings: what is yellow or red now, and every change of level",
     // One row per item that is yellow or red now, as the evaluator judged it last.
     // stage is '' where none applies (progress), so that it can be part of the key:
     // a county has a dispersion line per stage for the same indicator and period.
     "CREATE TABLE edu.warning_state ("
     "  kind text NOT NULL,"
     "  subject text NOT NULL,"
     "  stage text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  level text NOT NULL CHECK (level IN ('yellow', 'red')),"
     "  value double precision,"
     "  detail text NOT NULL,"
     "  since timestamptz NOT NULL,"
     "  PRIMARY KEY (kind, subject, stage, indicator, period));"
     // Every change of level (green included), in the transaction that caused it: the alert
     // stage reads it in order of id.
     "CREATE TABLE edu.warning_transition ("
     "  id bigserial PRIMARY KEY,"
     "  kind text NOT NULL,"
     "  subject text NOT NULL,"
     "  stage text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  from_level text NOT NULL,"
     "  to_level text NOT NULL,"
     "  value double precision,"
     "  detail text NOT NULL,"
     "  at timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX warning_transition_item ON edu.warning_transition"
     "  (kind, subject, stage, indicator, period);"
     "CREATE VIEW edu.current_warning AS"
     "  SELECT kind, subject, nullif(stage, '') AS stage, indicator, period, level, value, detail"
     "  FROM edu.warning_state;"},
    {3, "alerts: an outbox written with each change of level, and delivery state",
     // One alert per change of level, written in the transaction of the change (the outbox):
     // id is the transition's; batch groups the alerts of one transaction.
     "CREATE TABLE edu.alert ("
     "  id bigint PRIMARY KEY,"
     "  county text NOT NULL,"
     "  kind text NOT NULL,"
     "  subject text NOT NULL,"
     "  subject_name text NOT NULL,"
     "  stage text NOT NULL,"
     "  indicator text NOT NULL,"
     "  indicator_name text NOT NULL,"
     "  period text NOT NULL,"
     "  level text NOT NULL,"
     "  previous_level text NOT NULL,"
     "  value double precision,"
     "  target double precision,"
     "  message text NOT NULL,"
     "  raised_at timestamptz NOT NULL,"
     "  batch bigint NOT NULL);"
     // Per destination (the PUB socket, each [webhook.*] and [email.*]): the last alert done
     // with, and the state of the one being retried.
     "CREATE TABLE edu.alert_destination ("
     "  name text PRIMARY KEY,"
     "  last_id bigint NOT NULL DEFAULT 0,"
     "  attempts integer NOT NULL DEFAULT 0,"
     "  last_error text,"
     "  updated_at timestamptz NOT NULL DEFAULT now());"
     // The alert object of the contract, as JSON.
     "CREATE VIEW edu.alert_json AS"
     "  SELECT id, batch, level, kind, json_build_object("
     "    'alert_id', county || '-' || id, 'county', county, 'kind', kind,"
     "    'subject', subject, 'subject_name', subject_name, 'indicator', indicator,"
     "    'indicator_name', indicator_name, 'period', period, 'level', level,"
     "    'previous_level', previous_level, 'value', value, 'target', target,"
     "    'raised_at', to_char(raised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
     "    'message', message)::text AS body"
     "  FROM edu.alert;"},
    {4, "county aggregates per stage, indicator and period, versioned for the province",
     // Kept current by the evaluator in each batch's transaction. version comes from the same
     // sequence as edu.warning_transition.id, so one cursor orders both for a puller.
     "CREATE TABLE edu.county_aggregate ("
     "  stage text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  schools integer NOT NULL,"
     "  mean double precision,"
     "  min double precision,"
     "  max double precision,"
     "  cv double precision,"
     "  red integer NOT NULL,"
     "  yellow integer NOT NULL,"
     "  green integer NOT NULL,"
     "  version bigint NOT NULL DEFAULT nextval('edu.warning_transition_id_seq'),"
     "  PRIMARY KEY (stage, indicator, period));"
     "CREATE INDEX county_aggregate_version ON edu.county_aggregate (version);"
     "CREATE INDEX warning_transition_county ON edu.warning_transition (id)"
     "  WHERE kind IN ('dispersion', 'progress');"},
    {5, "the registry, the catalog and the rules' numbers, for the dashboard",
     // Copies of schools.csv and rules.ini, rewritten at start and on every reload, so that
     // readers (the dashboard's HTTP thread, people with psql) can name what they show.
     "CREATE TABLE edu.school ("
     "  code text PRIMARY KEY, name text NOT NULL, stage text NOT NULL,"
     "  students integer NOT NULL, location text NOT NULL);"
     "CREATE TABLE edu.indicator ("
     "  code text PRIMARY KEY, position integer NOT NULL, name text NOT NULL,"
     "  unit text NOT NULL, higher_better boolean NOT NULL, target_primary double precision,"
     "  target_junior double precision, kinds text NOT NULL);"
     "CREATE TABLE edu.setting (key text PRIMARY KEY, value text NOT NULL);"},
    {6, "no per-key index on the history",
     // Nothing the programs run looks the history up by key (current values have their own
     // table), and maintaining the index cost about a fifth of the store's time per batch
     // (tests/bench/ingest.sh). Ad-hoc questions by school can use edu.current_value or add
     // their own index.
     "DROP INDEX IF EXISTS edu.observation_log_key;"},
    {7, "least privilege: what the working role and the readers' role may do",
     // The county-level changes of level that the province pulls, as a view of their own, so
     // the readers' role can read them without the schools' transitions.
     "CREATE VIEW edu.county_warning_change AS"
     "  SELECT id, kind, stage, indicator, period, to_level, value, detail"
     "  FROM edu.warning_transition WHERE kind IN ('dispersion', 'progress');"
     // Run by the schema's owner after every migration (migrate_county): the working role
     // (`database`) may read and add to the history but never change or remove it; the
     // readers' role (`query_database`) may read the aggregates and warnings only. A role that
     // is the owner itself is left alone. Role names are identifiers, quoted by format's %I.
     "CREATE FUNCTION edu.grant_roles(writer text, reader text) RETURNS void"
     " LANGUAGE plpgsql AS $grant$"
     " BEGIN"
     "  IF writer IS NOT NULL AND writer <> current_user THEN"
     "   EXECUTE format('GRANT USAGE ON SCHEMA edu TO %I', writer);"
     "   EXECUTE format('GRANT SELECT, INSERT ON edu.observation_log, edu.rejected_log,"
     "     edu.warning_transition, edu.alert TO %I', writer);"
     "   EXECUTE format('GRANT SELECT, INSERT, UPDATE ON edu.current_value, edu.spool_state,"
     "     edu.alert_destination, edu.county_aggregate TO %I', writer);"
     "   EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON edu.warning_state TO %I',"
     "     writer);"
     "   EXECUTE format('GRANT SELECT, INSERT, DELETE ON edu.school, edu.indicator, edu.setting"
     "     TO %I', writer);"
     "   EXECUTE format('GRANT SELECT ON edu.schema_version, edu.observation,"
     "     edu.current_observation, edu.rejected_record, edu.current_warning, edu.alert_json,"
     "     edu.county_warning_change TO %I', writer);"
     "   EXECUTE format('GRANT USAGE ON SEQUENCE edu.warning_transition_id_seq TO %I', writer);"
     "  END IF;"
     "  IF reader IS NOT NULL AND reader <> current_user THEN"
     "   EXECUTE format('GRANT USAGE ON SCHEMA edu TO %I', reader);"
     "   EXECUTE format('GRANT SELECT ON edu.county_aggregate, edu.county_warning_change,"
     "     edu.current_warning TO %I', reader);"
     "  END IF;"
     " END $grant$;"
     "REVOKE EXECUTE ON FUNCTION edu.grant_roles(text, text) FROM PUBLIC;"},
    {8, "grants listed in a table; refusals beyond a cap counted, not stored one by one",
     // What edu.grant_roles grants, one row per GRANT: later migrations add rows for their
     // tables instead of rewriting the function. Owner-only (revoked from PUBLIC).
     "CREATE TABLE edu.role_grant ("
     "  role text NOT NULL CHECK (role IN ('writer', 'reader')),"
     "  privileges text NOT NULL,"
     "  objects text NOT NULL);"
     "REVOKE ALL ON edu.role_grant FROM PUBLIC;"
     "INSERT INTO edu.role_grant (role, privileges, objects) VALUES"
     " ('writer', 'USAGE', 'SCHEMA edu'),"
     " ('writer', 'SELECT, INSERT', 'edu.observation_log, edu.rejected_log,"
     "   edu.warning_transition, edu.alert'),"
     " ('writer', 'SELECT, INSERT, UPDATE', 'edu.current_value, edu.spool_state,"
     "   edu.alert_destination, edu.county_aggregate'),"
     " ('writer', 'SELECT, INSERT, UPDATE, DELETE', 'edu.warning_state'),"
     " ('writer', 'SELECT, INSERT, DELETE', 'edu.school, edu.indicator, edu.setting'),"
     " ('writer', 'SELECT', 'edu.schema_version, edu.observation, edu.current_observation,"
     "   edu.rejected_record, edu.current_warning, edu.alert_json, edu.county_warning_change'),"
     " ('writer', 'USAGE', 'SEQUENCE edu.warning_transition_id_seq'),"
     " ('reader', 'USAGE', 'SCHEMA edu'),"
     " ('reader', 'SELECT', 'edu.county_aggregate, edu.county_warning_change,"
     "   edu.current_warning');"
     "CREATE OR REPLACE FUNCTION edu.grant_roles(writer text, reader text) RETURNS void"
     " LANGUAGE plpgsql AS $grant$"
     " DECLARE g record; who text;"
     " BEGIN"
     "  FOR g IN SELECT * FROM edu.role_grant LOOP"
     "   who := CASE g.role WHEN 'writer' THEN writer ELSE reader END;"
     "   IF who IS NOT NULL AND who <> current_user THEN"
     "    EXECUTE format('GRANT %s ON %s TO %I', g.privileges, g.objects, who);"
     "   END IF;"
     "  END LOOP;"
     " END $grant$;"
     // A school (or a key) that sends refusal after refusal fills no disk: beyond a cap per
     // batch and per sender and hour, refusals are counted here, by reason, one row per batch.
     "CREATE TABLE edu.refusal_overflow ("
     "  sender text NOT NULL,"
     "  spool_id text NOT NULL,"
     "  reason text NOT NULL,"
     "  records integer NOT NULL,"
     "  first_seq bigint NOT NULL,"
     "  last_seq bigint NOT NULL,"
     "  received_at timestamptz NOT NULL);"
     "INSERT INTO edu.role_grant (role, privileges, objects) VALUES"
     " ('writer', 'SELECT, INSERT', 'edu.refusal_overflow');"
     // Each refusal with the key that sent it, beside the school it names.
     "CREATE OR REPLACE VIEW edu.rejected_record AS"
     "  SELECT school_code, indicator, period, reason, received_at, sender"
     "  FROM edu.rejected_log;"},
    {9, "the response loop: cases (整改事项) as events, silences",
     // A case's identity: the warning item it is about. Its state is never stored: it is
     // derived from its events (edu.case), which the working role may add but never change.
     "CREATE TABLE edu.case_item ("
     "  id bigserial PRIMARY KEY,"
     "  kind text NOT NULL,"
     "  subject text NOT NULL,"
     "  stage text NOT NULL,"
     "  indicator text NOT NULL,"
     "  period text NOT NULL,"
     "  case_type text NOT NULL CHECK (case_type IN ('rectify', 'verify')),"
     "  opened_at timestamptz NOT NULL);"
     "CREATE INDEX case_item_key ON edu.case_item (kind, subject, stage, indicator, period);"
     "CREATE TABLE edu.case_log ("
     "  id bigserial PRIMARY KEY,"
     "  case_id bigint NOT NULL REFERENCES edu.case_item (id),"
     "  at timestamptz NOT NULL,"
     "  actor text NOT NULL,"
     "  action text NOT NULL CHECK (action IN ('opened', 'level', 'acknowledged', 'assigned',"
     "    'noted', 'resolved', 'escalated', 'closed', 'reopened')),"
     "  level text CHECK (level IN ('yellow', 'red')),"
     "  assignee text,"
     "  due date,"
     "  plan text,"
     "  note text);"
     "CREATE INDEX case_log_case ON edu.case_log (case_id, id);"
     // When the engine first saw an item yellow without a case (EDU_NOW's clock): a case opens
     // once it has stayed yellow case_yellow_days.
     "CREATE TABLE edu.case_watch ("
     "  kind text NOT NULL, subject text NOT NULL, stage text NOT NULL, indicator text NOT NULL,"
     "  period text NOT NULL, yellow_since timestamptz NOT NULL,"
     "  PRIMARY KEY (kind, subject, stage, indicator, period));"
     // The engine's place in edu.warning_transition, and its last reminder.
     "CREATE TABLE edu.case_cursor ("
     "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
     "  last_transition bigint NOT NULL,"
     "  reminded_at timestamptz);"
     "INSERT INTO edu.case_cursor (last_transition) VALUES (0);"
     // The contract's views.
     "CREATE VIEW edu.case_event AS"
     "  SELECT case_id, at, actor, action, note FROM edu.case_log;"
     "CREATE VIEW edu.case AS"
     "  SELECT i.id, i.kind, i.subject, nullif(i.stage, '') AS stage, i.indicator, i.period,"
     "    lv.level,"
     "    CASE WHEN cl.at IS NOT NULL THEN 'closed'"
     "         WHEN rs.action = 'resolved' THEN 'resolved'"
     "         WHEN st.assigned THEN 'assigned'"
     "         WHEN st.acknowledged_at IS NOT NULL THEN 'acknowledged'"
     "         ELSE 'open' END AS state,"
     "    i.opened_at, st.acknowledged_at, asg.assignee, asg.due,"
     "    st.escalated AND cl.at IS NULL AS escalated,"
     "    CASE WHEN rs.action = 'resolved' THEN rs.at END AS resolved_at,"
     "    cl.at AS closed_at, cy.reopened::int AS reopened,"
     "    i.case_type, asg.plan, cy.started_at"
     "  FROM edu.case_item i"
     "  CROSS JOIN LATERAL (SELECT max(id) AS start, max(at) FILTER (WHERE action IN"
     "      ('opened', 'reopened')) AS started_at,"
     "      count(*) FILTER (WHERE action = 'reopened') AS reopened"
     "    FROM edu.case_log e WHERE e.case_id = i.id AND e.action IN ('opened', 'reopened')) cy"
     "  LEFT JOIN LATERAL (SELECT e.level FROM edu.case_log e WHERE e.case_id = i.id"
     "    AND e.level IS NOT NULL ORDER BY e.id DESC LIMIT 1) lv ON true"
     "  LEFT JOIN LATERAL (SELECT e.action, e.at FROM edu.case_log e WHERE e.case_id = i.id"
     "    AND e.id >= cy.start AND e.action IN ('resolved', 'level', 'reopened', 'opened')"
     "    ORDER BY e.id DESC LIMIT 1) rs ON true"
     "  LEFT JOIN LATERAL (SELECT e.at FROM edu.case_log e WHERE e.case_id = i.id"
     "    AND e.id > cy.start AND e.action = 'closed' ORDER BY e.id DESC LIMIT 1) cl ON true"
     "  LEFT JOIN LATERAL (SELECT e.assignee, e.due, e.plan FROM edu.case_log e"
     "    WHERE e.case_id = i.id AND e.id > cy.start AND e.action = 'assigned'"
     "    ORDER BY e.id DESC LIMIT 1) asg ON true"
     "  CROSS JOIN LATERAL (SELECT bool_or(e.action = 'assigned') AS assigned,"
     "      min(e.at) FILTER (WHERE e.action = 'acknowledged') AS acknowledged_at,"
     "      coalesce(bool_or(e.action = 'escalated'), false) AS escalated"
     "    FROM edu.case_log e WHERE e.case_id = i.id AND e.id > cy.start) st;"
     // Silences (what Alertmanager's users ask for): matching alerts are recorded but held
     // back from people's destinations until the silence ends; cases are never silenced.
     "CREATE TABLE edu.silence ("
     "  id bigserial PRIMARY KEY,"
     "  kind text, school text, indicator text, period text, level text,"
     "  until timestamptz NOT NULL,"
     "  comment text NOT NULL,"
     "  author text NOT NULL,"
     "  created_at timestamptz NOT NULL,"
     "  lifted_at timestamptz,"
     "  lifted_by text);"
     "CREATE TABLE edu.alert_held ("
     "  destination text NOT NULL,"
     "  alert_id bigint NOT NULL,"
     "  silence_id bigint NOT NULL,"
     "  PRIMARY KEY (destination, alert_id));"
     // Who an alert is for: everyone (all), only machines (the PUB socket and JSON webhooks:
     // the items a digest stands for), or only people (a digest, a reminder).
     "ALTER TABLE edu.alert ADD COLUMN audience text NOT NULL DEFAULT 'all'"
     "  CHECK (audience IN ('all', 'machines', 'people'));"
     "INSERT INTO edu.role_grant (role, privileges, objects) VALUES"
     " ('writer', 'SELECT, INSERT', 'edu.case_item, edu.case_log'),"
     " ('writer', 'SELECT, INSERT, UPDATE, DELETE', 'edu.case_watch'),"
     " ('writer', 'SELECT, UPDATE', 'edu.case_cursor'),"
     " ('writer', 'SELECT', 'edu.case, edu.case_event'),"
     " ('writer', 'SELECT, INSERT, UPDATE', 'edu.silence'),"
     " ('writer', 'SELECT, INSERT, DELETE', 'edu.alert_held'),"
     " ('writer', 'UPDATE (audience)', 'edu.alert'),"
     " ('writer', 'USAGE', 'SEQUENCE edu.case_item_id_seq, edu.case_log_id_seq,"
     "   edu.silence_id_seq');"},
    {10, "the county-level changes of the new kinds reach the province",
     // county_balanced and urban_rural_gap are county kinds; capacity and persistent are judged
     // for a school and for the county, whose items have the county's 6-digit code as subject
     // (a school's is 10 digits). Same columns, so the readers' grant stays.
     "CREATE OR REPLACE VIEW edu.county_warning_change AS"
     "  SELECT id, kind, stage, indicator, period, to_level, value, detail"
     "  FROM edu.warning_transition"
     "  WHERE kind IN ('dispersion', 'progress', 'county_balanced', 'urban_rural_gap')"
     "     OR (kind IN ('capacity', 'persistent') AND length(subject) <> 10);"
     "DROP INDEX IF EXISTS edu.warning_transition_county;"
     "CREATE INDEX warning_transition_county ON edu.warning_transition (id)"
     "  WHERE kind IN ('dispersion', 'progress', 'county_balanced', 'urban_rural_gap')"
     "     OR (kind IN ('capacity', 'persistent') AND length(subject) <> 10);"},
    {11, "the county signs off a year (审核): approval events, locked years, late changes",
     // A year's approval is its events; its state is the latest one's (edu.period_approval).
     "CREATE TABLE edu.period_log ("
     "  id bigserial PRIMARY KEY,"
     "  version bigint NOT NULL DEFAULT nextval('edu.warning_transition_id_seq'),"
     "  period text NOT NULL,"
     "  at timestamptz NOT NULL,"
     "  actor text NOT NULL,"
     "  action text NOT NULL CHECK (action IN ('approved', 'unlocked', 'accepted', 'returned')),"
     "  note text,"
     "  checked bigint[]);"
     "CREATE INDEX period_log_period ON edu.period_log (period, id);"
     "CREATE INDEX period_log_version ON edu.period_log (version);"
     "CREATE VIEW edu.period_approval AS"
     "  SELECT p.period,"
     "    coalesce(CASE l.action WHEN 'approved' THEN 'approved' WHEN 'accepted' THEN 'accepted'"
     "      WHEN 'returned' THEN 'returned' ELSE 'open' END, 'open') AS state,"
     "    l.at AS changed_at, l.actor, l.note,"
     "    (SELECT max(a.at) FROM edu.period_log a WHERE a.period = p.period"
     "      AND a.action = 'approved') AS approved_at,"
     "    (SELECT max(a.at) FROM edu.period_log a WHERE a.period = p.period"
     "      AND a.action = 'accepted') AS accepted_at,"
     "    l.version"
     "  FROM (SELECT DISTINCT period FROM edu.period_log"
     "        UNION SELECT DISTINCT period FROM edu.county_aggregate) p"
     "  LEFT JOIN LATERAL (SELECT * FROM edu.period_log l WHERE l.period = p.period"
     "    ORDER BY l.id DESC LIMIT 1) l ON true;"
     // Every change of a value after its year's deadline, and every unlock: an audit the
     // province pulls.
     "CREATE TABLE edu.late_change_log ("
     "  version bigint NOT NULL DEFAULT nextval('edu.warning_transition_id_seq'),"
     "  school_code text NOT NULL,"
     "  indicator text,"
     "  period text NOT NULL,"
     "  old_value double precision,"
     "  new_value double precision,"
     "  received_at timestamptz NOT NULL,"
     "  kind text NOT NULL CHECK (kind IN ('change', 'unlock')),"
     "  note text);"
     "CREATE INDEX late_change_log_version ON edu.late_change_log (version);"
     "CREATE VIEW edu.late_change AS"
     "  SELECT school_code, indicator, period, old_value, new_value, received_at, kind, note"
     "  FROM edu.late_change_log;"
     // Cases travel to the province (escalated ones are 督办): each event gets a version.
     "ALTER TABLE edu.case_log ADD COLUMN version bigint NOT NULL"
     "  DEFAULT nextval('edu.warning_transition_id_seq');"
     "CREATE INDEX case_log_version ON edu.case_log (version);"
     "INSERT INTO edu.role_grant (role, privileges, objects) VALUES"
     " ('writer', 'SELECT, INSERT', 'edu.period_log, edu.late_change_log'),"
     " ('writer', 'SELECT', 'edu.period_approval, edu.late_change'),"
     " ('writer', 'USAGE', 'SEQUENCE edu.period_log_id_seq'),"
     " ('reader', 'SELECT', 'edu.period_log, edu.period_approval, edu.late_change_log,"
     "   edu.late_change, edu.case, edu.case_log');"},
    {12, "the cases not closed, kept as their events come, for the clock's sweep",
     // The sweep looks for overdue cases every few seconds; reading every case ever opened
     // through edu.case cost ~20 us a case (2.1 s at 100 000, most long closed) while the
     // writer waited. A case is here from its opening (or reopening) until it is closed: the
     // events decide, whoever writes them (the engine, a supervisor's 销号), so a trigger keeps
     // it, as the schema's owner (SECURITY DEFINER): the working role may read the table but
     // not change it, as it may add events but never change or remove one. The sweep checks
     // each case's own events again, so a stray row costs a lookup, not a wrong escalation.
     "CREATE TABLE edu.case_open (case_id bigint PRIMARY KEY);"
     "CREATE FUNCTION edu.case_open_follow() RETURNS trigger LANGUAGE plpgsql"
     "  SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$"
     " BEGIN"
     "  IF NEW.action = 'closed' THEN"
     "    DELETE FROM edu.case_open WHERE case_id = NEW.case_id;"
     "  ELSE"
     "    INSERT INTO edu.case_open (case_id) VALUES (NEW.case_id) ON CONFLICT DO NOTHING;"
     "  END IF;"
     "  RETURN NULL;"
     " END $$;"
     "REVOKE EXECUTE ON FUNCTION edu.case_open_follow() FROM PUBLIC;"
     "CREATE TRIGGER case_open_follow AFTER INSERT ON edu.case_log FOR EACH ROW"
     "  WHEN (NEW.action IN ('opened', 'reopened', 'closed'))"
     "  EXECUTE FUNCTION edu.case_open_follow();"
     "INSERT INTO edu.case_open (case_id) SELECT id FROM edu.case WHERE state <> 'closed';"
     "INSERT INTO edu.role_grant (role, privileges, objects) VALUES"
     " ('writer', 'SELECT', 'edu.case_open');"},
};

int migrate_latest(void)
{
    return s_migrations[sizeof s_migrations / sizeof *s_migrations - 1].version;
}

int migrate_run(PGconn *conn, char *err, size_t errlen)
{
    // a fixed key for "edu schema migration" (the bytes of "eduwatch" read as a number)
    return pg_migrate(conn, "edu", 7306075157148184680LL, s_migrations,
                      sizeof s_migrations / sizeof *s_migrations, "the aggregator", err, errlen);
}

/*  The user name conninfo logs in as, into name. Returns 0, or -1 with err. */
static int s_role_of(const char *conninfo, char *name, size_t size, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(conninfo, "edu-aggregator", err, errlen);
    if (!conn)
        return -1;
    snprintf(name, size, "%s", PQuser(conn));
    PQfinish(conn);
    return 0;
}

int migrate_county(const char *owner, const char *working, const char *readers, char *err,
                   size_t errlen)
{
    bool split = *owner != '\0';
    char writer[256] = "", reader[256] = "", inner[512];
    if (split && s_role_of(working, writer, sizeof writer, err, errlen) != 0)
        return -1;
    if (*readers && s_role_of(readers, reader, sizeof reader, err, errlen) != 0)
        return -1;
    PGconn *conn = pg_connect(split ? owner : working, "edu-aggregator", err, errlen);
    if (!conn)
        return -1;
    int rc = migrate_run(conn, err, errlen) < 0 ? -1 : 0;
    const char *roles[] = {*writer ? writer : NULL, *reader ? reader : NULL};
    if (rc == 0 && (roles[0] || roles[1]) &&
        pg_exec_params(conn, "SELECT edu.grant_roles($1, $2)", 2, roles, inner, sizeof inner) != 0)
        rc = errorf(err, errlen, "could not grant the database roles what they need: %s", inner);
    PQfinish(conn);
    return rc;
}
