/*  schools - the county's registry of schools (schools.csv)
 *
 *  Header required: school_code,name,county_code,stage,students,location (any order, extra
 *  columns ignored). school_code is the 10-digit 学校标识码, county_code the 6-digit 行政区划代码,
 *  stage primary or junior (a nine-year school is two schools), students a positive integer,
 *  location urban, town or rural. The whole file is checked; the first problem is reported with
 *  file, line, column and value.
 */
#ifndef EDU_SCHOOLS_H
#define EDU_SCHOOLS_H

#include <stddef.h>

typedef enum { STAGE_PRIMARY = 0, STAGE_JUNIOR = 1, STAGE_COUNT } stage_t;

typedef struct {
    char *code;      // 学校标识码, 10 digits
    char *name;      // UTF-8
    char *county;    // 行政区划代码, 6 digits
    stage_t stage;   // 学段
    long students;   // enrolment, > 0
    char *location;  // urban | town | rural
} school_t;

typedef struct schools_t schools_t;

/*  Loads and checks path. Returns the registry, or NULL with err naming file, line, problem. */
schools_t *schools_load(const char *path, char *err, size_t errlen);
void schools_destroy(schools_t **self_p);

/*  The school with this code, or NULL. Borrowed. */
const school_t *schools_find(const schools_t *self, const char *code);
size_t schools_count(const schools_t *self);
/*  i-th school in file order; i < schools_count(). Borrowed. */
const school_t *schools_at(const schools_t *self, size_t i);

/*  Every school of the registry belongs to county (6 digits); path names the file in err.
 *  Returns 0, or -1 with err naming the first school that does not. */
int schools_check_county(const schools_t *self, const char *path, const char *county, char *err,
                         size_t errlen);

const char *stage_name(stage_t stage);

#endif
