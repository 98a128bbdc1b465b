/*  schema - the province database, in versioned migrations like the county's (common/pg.h)
 *
 *  Tables keep what the counties said (`*_row`, with the version it came at); views are what
 *  people and the contract read. A county year's rows are never deleted when the county
 *  unlocks it or the province returns it: they are marked withdrawn, so the views drop them
 *  and the national tier (deploy/national/), which replicates the tables, sees the same.
 *  Every table's key starts with the county code, so provinces' tables add up at the national
 *  level without clashing.
 */
#include "province.h"

#include "pg.h"
#include "util.h"

#include <libpq-fe.h>

static const pg_migration_t s_migrations[] = {
    // The first one creates only what is missing, so a database made before versioning adopts
    // it as it is.
    {1, "every county's aggregates and county-level warnings, and each county's cursor",
     "SET LOCAL client_min_messages = warning;"
     // every county's aggregates per stage × indicator × period, as the county last said
     "CREATE TABLE IF NOT EXISTS province.indicator_row ("
     "  county_code text NOT NULL, stage text NOT NULL, indicator text NOT NULL,"
     "  period text NOT NULL, schools integer NOT NULL, mean double precision,"
     "  min double precision, max double precision, cv double precision,"
     "  red integer NOT NULL, yellow integer NOT NULL, green integer NOT NULL,"
     "  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (county_code, stage, indicator, period));"
     // the contract's view
     "CREATE OR REPLACE VIEW province.county_indicator AS"
     "  SELECT county_code, stage, indicator, period, schools, mean, cv, red, yellow, green"
     "  FROM province.indicator_row;"
     // what is yellow or red now at county level (dispersion, progress), per county
     "CREATE TABLE IF NOT EXISTS province.county_warning ("
     "  county_code text NOT NULL, kind text NOT NULL, stage text NOT NULL,"
     "  indicator text NOT NULL, period text NOT NULL, level text NOT NULL,"
     "  value double precision, detail text NOT NULL, version bigint NOT NULL,"
     "  PRIMARY KEY (county_code, kind, stage, indicator, period));"
     // where each county's next pull starts
     "CREATE TABLE IF NOT EXISTS province.county_cursor ("
     "  county_code text PRIMARY KEY, cursor bigint NOT NULL,"
     "  pulled_at timestamptz NOT NULL DEFAULT now());"},
    {2, "approval: county years, late changes, cases; withdrawn rather than deleted; names",
     "SET LOCAL client_min_messages = warning;"
     // an unlocked or returned year's rows stay, marked; the contract's view shows the others
     "ALTER TABLE province.indicator_row ADD COLUMN withdrawn boolean NOT NULL DEFAULT false;"
     "CREATE OR REPLACE VIEW province.county_indicator AS"
     "  SELECT county_code, stage, indicator, period, schools, mean, cv, red, yellow, green"
     "  FROM province.indicator_row WHERE NOT withdrawn;"
     // county-level warnings at every level (a green county_balanced is a county that meets
     // the standard, not a warning that ended); county_warning becomes the view of the
     // yellow and red ones, as it was
     "CREATE TABLE province.warning_row ("
     "  county_code text NOT NULL, kind text NOT NULL, stage text NOT NULL,"
     "  indicator text NOT NULL, period text NOT NULL, level text NOT NULL,"
     "  value double precision, detail text NOT NULL, version bigint NOT NULL,"
     "  withdrawn boolean NOT NULL DEFAULT false,"
     "  PRIMARY KEY (county_code, kind, stage, indicator, period));"
     "INSERT INTO province.warning_row (county_code, kind, stage, indicator, period, level,"
     "  value, detail, version)"
     "  SELECT county_code, kind, stage, indicator, period, level, value, detail, version"
     "  FROM province.county_warning;"
     "DROP TABLE province.county_warning;"
     "CREATE VIEW province.county_warning AS"
     "  SELECT county_code, kind, stage, indicator, period, level, value, detail, version"
     "  FROM province.warning_row WHERE level <> 'green' AND NOT withdrawn;"
     // each county year's approval (县级审核) as the county last said, and its history
     "CREATE TABLE province.period_row ("
     "  county_code text NOT NULL, period text NOT NULL,"
     "  state text NOT NULL CHECK (state IN ('open', 'approved', 'accepted', 'returned')),"
     "  changed_at timestamptz, approved_at timestamptz, accepted_at timestamptz, note text,"
     "  version bigint NOT NULL, pulled_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (county_code, period));"
     "CREATE VIEW province.county_period AS"
     "  SELECT county_code, period, state, approved_at, accepted_at FROM province.period_row;"
     "CREATE TABLE province.period_event ("
     "  county_code text NOT NULL, version bigint NOT NULL, period text NOT NULL,"
     "  state text NOT NULL, changed_at timestamptz, note text,"
     "  PRIMARY KEY (county_code, version, period));"
     // every change of a value after its year's deadline, and every unlock, as audited by
     // the county (seq orders the rows of one version)
     "CREATE TABLE province.late_change ("
     "  county_code text NOT NULL, version bigint NOT NULL, seq integer NOT NULL,"
     "  school_code text NOT NULL, indicator text, period text NOT NULL,"
     "  old_value double precision, new_value double precision, received_at timestamptz,"
     "  kind text NOT NULL, note text,"
     "  PRIMARY KEY (county_code, version, seq));"
     "CREATE INDEX late_change_period ON province.late_change (period);"
     // each county's cases (整改事项) as they are now; escalated is 督办
     "CREATE TABLE province.county_case ("
     "  county_code text NOT NULL, case_id bigint NOT NULL, kind text NOT NULL,"
     "  subject text NOT NULL, stage text, indicator text, period text, level text,"
     "  state text NOT NULL, escalated boolean NOT NULL, due date, version bigint NOT NULL,"
     "  PRIMARY KEY (county_code, case_id));"
     // the configured counties, with the names people read (rewritten at every pull)
     "CREATE TABLE province.county ("
     "  code text PRIMARY KEY, name text NOT NULL, protocol integer);"
     // the indicators' names, from the contract's catalog
     "CREATE TABLE province.indicator ("
     "  code text PRIMARY KEY, position integer NOT NULL, name text NOT NULL,"
     "  higher_better boolean NOT NULL);"
     "INSERT INTO province.indicator VALUES"
     "  ('degree_teachers_per100', 1, '每百名学生拥有高于规定学历教师数', true),"
     "  ('backbone_teachers_per100', 2, '每百名学生拥有县级以上骨干教师数', true),"
     "  ('pe_art_teachers_per100', 3, '每百名学生拥有体育、艺术专任教师数', true),"
     "  ('teaching_area_per_student', 4, '生均教学及辅助用房面积', true),"
     "  ('sports_area_per_student', 5, '生均体育运动场馆面积', true),"
     "  ('equipment_value_per_student', 6, '生均教学仪器设备值', true),"
     "  ('multimedia_rooms_per100', 7, '每百名学生拥有网络多媒体教室数', true),"
     "  ('student_teacher_ratio', 8, '生师比', false),"
     "  ('bachelor_teacher_pct', 9, '本科及以上学历教师占比', true),"
     "  ('training_hours', 10, '教师年均培训时长', true),"
     "  ('backbone_rotation_pct', 11, '骨干教师交流轮岗比例', true),"
     "  ('fitness_pass_pct', 12, '学生体质健康合格率', true),"
     "  ('exam_excellent_pct', 13, '学业水平考试优秀率', true),"
     "  ('myopia_pct', 14, '学生近视率', false),"
     "  ('psych_teacher_pct', 15, '专职心理教师配备率', true),"
     "  ('inquiry_learning_pct', 16, '探究式、项目式学习课堂占比', true),"
     "  ('parent_satisfaction_pct', 17, '社会认可度（家长满意度）', true),"
     "  ('enrolment', 18, '在校生数', true),"
     "  ('capacity', 19, '核定学位数', true),"
     "  ('county_balanced', 20, '优质均衡达标', true);"},
    {3, "the province's tables published for the national tier (deploy/national)",
     // Logical replication: a national database subscribes to each province's publication
     // (docs/scale.md). Publishing costs nothing until someone subscribes; the database needs
     // wal_level = logical for a subscriber to connect. Partitioned tables, if any, publish as
     // their root, so the national tables need not be partitioned alike.
     // A publication belongs to the database, not the schema: one left by a schema dropped
     // and made again is taken over.
     "SET LOCAL client_min_messages = error;"
     "DO $publish$ BEGIN"
     " IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'edu_province') THEN"
     "  ALTER PUBLICATION edu_province SET TABLE province.county, province.indicator_row,"
     "   province.warning_row, province.period_row, province.period_event,"
     "   province.late_change, province.county_case;"
     "  ALTER PUBLICATION edu_province SET (publish_via_partition_root = true);"
     " ELSE"
     "  CREATE PUBLICATION edu_province FOR TABLE province.county, province.indicator_row,"
     "   province.warning_row, province.period_row, province.period_event,"
     "   province.late_change, province.county_case"
     "   WITH (publish_via_partition_root = true);"
     " END IF;"
     " END $publish$;"},
};

int province_migrate(const province_config_t *config, char *err, size_t errlen)
{
    PGconn *conn = pg_connect(config->database, "edu-province", err, errlen);
    if (!conn)
        return -1;
    char inner[1024];
    // a fixed key for "province schema migration" (the county's key + 1)
    int rc = pg_migrate(conn, "province", 7306075157148184681LL, s_migrations,
                        sizeof s_migrations / sizeof *s_migrations, "edu-province", inner,
                        sizeof inner) < 0
                 ? errorf(err, errlen, "could not bring the province schema up to date: %s",
                          inner)
                 : 0;
    PQfinish(conn);
    return rc;
}
