/*  schools - the county's registry of schools (schools.csv)
 *
 *  Read with the shared CSV reader (so a registry saved by Excel in GB18030 works too) into an
 *  array in file order plus a hash by code for the validator's lookups.
 */
#include "schools.h"

#include "csv.h"
#include "lookup.h"
#include "util.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct schools_t {
    school_t *items;    // in file order
    size_t count;       // used
    size_t capacity;    // allocated
    lookup_t *by_code;  // code -> school_t (borrowed from items, built after loading)
};

enum { COL_CODE, COL_NAME, COL_COUNTY, COL_STAGE, COL_STUDENTS, COL_LOCATION, COL_COUNT };
static const char *s_columns[COL_COUNT] = {"school_code", "name",     "county_code",
                                           "stage",       "students", "location"};

const char *stage_name(stage_t stage)
{
    return stage == STAGE_JUNIOR ? "junior" : "primary";
}

static bool s_all_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char) s[i]))
            return false;
    return true;
}

static int s_check_row(const char *path, unsigned line, char **f, school_t *out, char *err,
                       size_t errlen)
{
    if (!s_all_digits(f[COL_CODE], 10))
        return errorf(err, errlen, "%s:%u: school_code \"%s\" is not a 10-digit school code", path,
                      line, f[COL_CODE]);
    if (!*f[COL_NAME])
        return errorf(err, errlen, "%s:%u: name is empty", path, line);
    if (!s_all_digits(f[COL_COUNTY], 6))
        return errorf(err, errlen, "%s:%u: county_code \"%s\" is not a 6-digit division code", path,
                      line, f[COL_COUNTY]);
    stage_t stage;
    if (strcmp(f[COL_STAGE], "primary") == 0)
        stage = STAGE_PRIMARY;
    else if (strcmp(f[COL_STAGE], "junior") == 0)
        stage = STAGE_JUNIOR;
    else
        return errorf(err, errlen, "%s:%u: stage \"%s\" is not primary or junior", path, line,
                      f[COL_STAGE]);
    char *end = NULL;
    errno = 0;
    long students = strtol(f[COL_STUDENTS], &end, 10);
    if (end == f[COL_STUDENTS] || *end || errno || students <= 0)
        return errorf(err, errlen, "%s:%u: students \"%s\" is not a positive whole number", path,
                      line, f[COL_STUDENTS]);
    const char *loc = f[COL_LOCATION];
    if (strcmp(loc, "urban") && strcmp(loc, "town") && strcmp(loc, "rural"))
        return errorf(err, errlen, "%s:%u: location \"%s\" is not urban, town or rural", path, line,
                      loc);
    *out = (school_t){.code = xstrdup(f[COL_CODE]),
                      .name = xstrdup(f[COL_NAME]),
                      .county = xstrdup(f[COL_COUNTY]),
                      .stage = stage,
                      .students = students,
                      .location = xstrdup(loc)};
    return 0;
}

static int s_header(const char *path, const csv_row_t *row, int *map, char *err, size_t errlen)
{
    for (int c = 0; c < COL_COUNT; c++)
        map[c] = -1;
    for (size_t i = 0; i < row->count; i++) {
        char *name = csv_trim(row->fields[i]);
        for (int c = 0; c < COL_COUNT; c++)
            if (strcasecmp(name, s_columns[c]) == 0 && map[c] < 0)
                map[c] = (int) i;
        free(name);
    }
    for (int c = 0; c < COL_COUNT; c++)
        if (map[c] < 0)
            return errorf(err, errlen, "%s:%u: header lacks column \"%s\" (required: "
                          "school_code,name,county_code,stage,students,location)",
                          path, row->line, s_columns[c]);
    return 0;
}

schools_t *schools_load(const char *path, char *err, size_t errlen)
{
    size_t size = 0;
    char *data = file_read_all(path, &size, err, errlen);
    if (!data)
        return NULL;
    char inner[256];
    csv_reader_t *reader = csv_reader_new(data, size, inner, sizeof inner);
    free(data);
    if (!reader) {
        errorf(err, errlen, "%s: %s", path, inner);
        return NULL;
    }
    schools_t *self = xcalloc(1, sizeof *self);
    zhashx_t *seen = zhashx_new(); // codes so far, for a duplicate's line
    int map[COL_COUNT];
    bool have_header = false;
    int rc = 0;
    csv_row_t row;
    int got;
    while (rc == 0 && (got = csv_reader_next(reader, &row, inner, sizeof inner)) != 0) {
        if (got < 0) {
            rc = errorf(err, errlen, "%s:%u: %s", path, row.line, inner);
            break;
        }
        if (!have_header) {
            rc = s_header(path, &row, map, err, errlen);
            have_header = true;
            continue;
        }
        char *f[COL_COUNT] = {0};
        for (int c = 0; c < COL_COUNT; c++)
            f[c] = csv_trim((size_t) map[c] < row.count ? row.fields[map[c]] : "");
        school_t school;
        rc = s_check_row(path, row.line, f, &school, err, errlen);
        for (int c = 0; c < COL_COUNT; c++)
            free(f[c]);
        if (rc != 0)
            break;
        if (zhashx_lookup(seen, school.code)) {
            rc = errorf(err, errlen, "%s:%u: school_code %s is registered twice", path, row.line,
                        school.code);
            free(school.code), free(school.name), free(school.county), free(school.location);
            break;
        }
        if (self->count == self->capacity) {
            self->capacity = self->capacity ? self->capacity * 2 : 64;
            self->items = xrealloc(self->items, self->capacity * sizeof(school_t));
        }
        self->items[self->count++] = school;
        zhashx_insert(seen, school.code, (void *) 1);
    }
    zhashx_destroy(&seen);
    csv_reader_destroy(&reader);
    if (rc == 0 && !have_header)
        rc = errorf(err, errlen, "%s: file is empty (a header line is required)", path);
    if (rc != 0) {
        schools_destroy(&self);
        return NULL;
    }
    // the array has stopped moving: index its entries
    self->by_code = lookup_new();
    for (size_t i = 0; i < self->count; i++)
        lookup_add(self->by_code, self->items[i].code, &self->items[i]);
    lookup_seal(self->by_code); // no duplicates: refused above
    return self;
}

void schools_destroy(schools_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    schools_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->items[i].code);
        free(self->items[i].name);
        free(self->items[i].county);
        free(self->items[i].location);
    }
    free(self->items);
    lookup_destroy(&self->by_code);
    free(self);
    *self_p = NULL;
}

const school_t *schools_find(const schools_t *self, const char *code)
{
    return lookup_find(self->by_code, code);
}

size_t schools_count(const schools_t *self)
{
    return self->count;
}

const school_t *schools_at(const schools_t *self, size_t i)
{
    return &self->items[i];
}

int schools_check_county(const schools_t *self, const char *path, const char *county, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < schools_count(self); i++)
        if (strcmp(schools_at(self, i)->county, county) != 0)
            return errorf(err, errlen, "%s: school %s belongs to county %s, not %s", path,
                          schools_at(self, i)->code, schools_at(self, i)->county, county);
    return 0;
}
