-- subscribe.sql - the national database subscribes to one province (one subscription each)
--
--   psql -d national -v name=edu_43 -v conninfo='host=prov43.example port=5432 dbname=province
--        user=edu_national password=...' -f subscribe.sql
--
-- name: the subscription (and its replication slot at the province), one per province, e.g.
-- edu_ and the province code. The province copies its tables first, then streams every change
-- as it commits; a province or national restart loses nothing: the province keeps its WAL for
-- the slot until the national database has applied it (docs/scale.md).
CREATE SUBSCRIPTION :"name" CONNECTION :'conninfo' PUBLICATION edu_province;
