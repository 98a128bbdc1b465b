/*  config - INI files read through a table of known keys
 *
 *  inih calls us once per key but does not say on which line; we hand it our own line reader
 *  (ini_parse_stream), which counts the lines as it gives them out, so every error can name
 *  its line. The first error wins; later lines are still read by inih but ignored.
 */
#include "config.h"

#include "util.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

// inih keeps this many bytes of a section's name, terminator included (MAX_SECTION in its
// ini.c), and cuts a longer one without a word: such a header is refused here instead
#define S_INIH_MAX_SECTION 50

typedef struct {
    FILE *file;                // the file being read
    const char *path;          // its name, for messages
    unsigned line;             // lines handed to inih so far
    bool at_line_start;        // the previous chunk ended with a newline
    unsigned section_line;     // line of the latest [section] header
    config_line_fn *handler;   // per-key callback
    void *arg;                 // its argument
    char error[512];           // first error, without file and line
    unsigned error_line;       // its line (0: none yet)
} s_reader_t;

static char *s_read_line(char *str, int num, void *stream)
{
    s_reader_t *self = stream;
    char *got = fgets(str, num, self->file);
    if (got) {
        if (self->at_line_start) {
            self->line++;
            const char *header = got + strspn(got, " \t");
            if (*header == '[') {
                self->section_line = self->line;
                size_t len = strcspn(header + 1, "]\r\n");
                if (len >= S_INIH_MAX_SECTION && !self->error_line) {
                    snprintf(self->error, sizeof self->error,
                             "section name \"%.20s...\" is longer than %d characters",
                             header + 1, S_INIH_MAX_SECTION - 1);
                    self->error_line = self->line;
                }
            }
        }
        self->at_line_start = strchr(got, '\n') != NULL;
    }
    return got;
}

static int s_on_key(void *user, const char *section, const char *key, const char *value)
{
    s_reader_t *self = user;
    if (self->error_line)
        return 1;
    // inih strips inline `;` comments; the contract allows `#` too: a `#` after white space
    // ends the value
    char stripped[1024];
    const char *hash = value;
    while ((hash = strchr(hash, '#')) && hash > value && hash[-1] != ' ' && hash[-1] != '\t')
        hash++;
    if (hash && hash > value && (size_t) (hash - value) < sizeof stripped) {
        size_t n = (size_t) (hash - value);
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
            n--;
        memcpy(stripped, value, n);
        stripped[n] = '\0';
        value = stripped;
    }
    char err[sizeof self->error];
    if (self->handler(self->arg, self->line, self->section_line, section, key, value, err,
                      sizeof err) != 0) {
        snprintf(self->error, sizeof self->error, "%s", err);
        self->error_line = self->line;
        return 0;
    }
    return 1;
}

int config_parse_lines(const char *path, config_line_fn *handler, void *arg, char *err,
                       size_t errlen)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return errorf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
    s_reader_t reader = {
        .file = file, .path = path, .at_line_start = true, .handler = handler, .arg = arg};
    int rc = ini_parse_stream(s_read_line, &reader, s_on_key, &reader);
    fclose(file);
    if (reader.error_line)
        return errorf(err, errlen, "%s:%u: %s", path, reader.error_line, reader.error);
    if (rc > 0)
        return errorf(err, errlen, "%s:%d: cannot parse line (expected [section] or key = value)",
                      path, rc);
    if (rc < 0)
        return errorf(err, errlen, "could not read \"%s\"", path);
    return 0;
}

int config_parse_bool(const char *text, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

typedef struct {
    const config_key_t *table; // the program's keys
    void *out;                 // the program's struct
    bool *seen;                // per table row: set by the file
    config_named_fn *named_fn; // for [prefix.name] sections
    void *named_arg;           // its argument
} s_load_t;

static bool s_has_bounds(const config_key_t *k)
{
    return !(k->min == 0 && k->max == 0);
}

int config_check_digits(const char *value, size_t n, char *err, size_t errlen)
{
    if (strlen(value) != n || strspn(value, "0123456789") != n)
        return errorf(err, errlen, "\"%s\" is not a %zu-digit code", value, n);
    return 0;
}

static int s_store(const config_key_t *k, void *out, const char *value, char *err, size_t errlen)
{
    char *field = (char *) out + k->offset;
    char inner[256];
    if (k->check && k->check(value, inner, sizeof inner) != 0)
        return errorf(err, errlen, "%s: %s", k->key, inner);
    switch (k->type) {
    case CONFIG_STRING: {
        char **slot = (char **) field;
        free(*slot);
        *slot = xstrdup(value);
        return 0;
    }
    case CONFIG_BOOL:
        if (config_parse_bool(value, (bool *) field) != 0)
            return errorf(err, errlen, "invalid value \"%s\" for \"%s\": expected true or false",
                          value, k->key);
        return 0;
    case CONFIG_INT:
    case CONFIG_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double d = k->type == CONFIG_INT ? (double) strtol(value, &end, 10) : strtod(value, &end);
        if (end == value || *end != '\0' || errno == ERANGE || !isfinite(d))
            return errorf(err, errlen, "invalid value \"%s\" for \"%s\": expected a %s", value,
                          k->key, k->type == CONFIG_INT ? "whole number" : "number");
        if (s_has_bounds(k) && (d < k->min || d > k->max))
            return errorf(err, errlen, "value %s for \"%s\" is out of range [%g, %g]", value,
                          k->key, k->min, k->max);
        if (k->type == CONFIG_INT)
            *(long *) field = (long) d;
        else
            *(double *) field = d;
        return 0;
    }
    }
    return errorf(err, errlen, "unknown type for \"%s\"", k->key);
}

static int s_on_config_key(void *arg, unsigned line, unsigned section_line, const char *section,
                           const char *key, const char *value, char *err, size_t errlen)
{
    (void) line, (void) section_line;
    s_load_t *self = arg;
    const char *dot = strchr(section, '.');
    bool section_known = false;
    for (size_t i = 0; self->table[i].key; i++) {
        const config_key_t *k = &self->table[i];
        const char *star = strchr(k->section, '*');
        bool same_section =
            star ? dot && (size_t) (dot - section + 1) == (size_t) (star - k->section) &&
                       strncmp(section, k->section, (size_t) (star - k->section)) == 0 && dot[1]
                 : strcmp(section, k->section) == 0;
        if (!same_section)
            continue;
        section_known = true;
        if (strcmp(key, k->key) != 0)
            continue;
        if (star) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "%.*s", (int) (dot - section), section);
            return self->named_fn(self->named_arg, prefix, dot + 1, key, value, err, errlen);
        }
        self->seen[i] = true;
        return s_store(k, self->out, value, err, errlen);
    }
    if (!section_known)
        return errorf(err, errlen, "unknown section [%s]", section);
    return errorf(err, errlen, "unknown key \"%s\" in section [%s]", key, section);
}

int config_load(const char *path, const config_key_t *table, void *out, config_named_fn *named_fn,
                void *named_arg, char *err, size_t errlen)
{
    size_t rows = 0;
    while (table[rows].key)
        rows++;
    s_load_t load = {.table = table,
                     .out = out,
                     .seen = xcalloc(rows, sizeof(bool)),
                     .named_fn = named_fn,
                     .named_arg = named_arg};
    int rc = config_parse_lines(path, s_on_config_key, &load, err, errlen);
    for (size_t i = 0; rc == 0 && i < rows; i++) {
        const config_key_t *k = &table[i];
        if (load.seen[i] || strchr(k->section, '*'))
            continue;
        if (!k->default_value) {
            rc = errorf(err, errlen, "%s: missing key \"%s\" in section [%s]", path, k->key,
                        k->section);
            break;
        }
        char inner[256];
        if (s_store(k, out, k->default_value, inner, sizeof inner) != 0)
            rc = errorf(err, errlen, "%s: default of \"%s\": %s", path, k->key, inner);
    }
    free(load.seen);
    return rc;
}

void config_free(const config_key_t *table, void *out)
{
    for (size_t i = 0; table[i].key; i++) {
        if (table[i].type == CONFIG_STRING && !strchr(table[i].section, '*')) {
            char **slot = (char **) ((char *) out + table[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

void config_print_example(FILE *f, const config_key_t *table)
{
    const char *section = NULL;
    for (size_t i = 0; table[i].key; i++) {
        const config_key_t *k = &table[i];
        // named sections are examples to copy, so they are commented out: the file as printed
        // passes --check once its required keys are filled in
        const char *star = strchr(k->section, '*');
        const char *off = star ? "; " : "";
        if (!section || strcmp(section, k->section) != 0) {
            section = k->section;
            if (star)
                fprintf(f, "%s; [%.*sNAME]          ; any number of these\n", i ? "\n" : "",
                        (int) (star - section), section);
            else
                fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
        }
        fprintf(f, "; %s", k->description);
        if (s_has_bounds(k))
            fprintf(f, " (%g to %g)", k->min, k->max);
        fprintf(f, "\n");
        if (k->default_value)
            fprintf(f, "%s%s = %s\n", off, k->key, k->default_value);
        else
            fprintf(f, "%s%s =              ; required\n", off, k->key);
    }
}
