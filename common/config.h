/*  config - INI files read through a table of known keys
 *
 *  Each program describes its configuration as a table of config_key_t rows (section, key,
 *  type, default, bounds, where the value goes, what it means), as Fluent Bit's config map
 *  does. The same table parses the file, refuses unknown keys and out-of-range values with the
 *  file and line, fills in defaults, and prints the --help text and the example file.
 *
 *  Sections whose name has a dot (`[webhook.county-robot]`) are "named sections": the table
 *  gives their keys with the section written as the prefix and a star (`webhook.*`); each one
 *  found is handed to a callback, which may store it as it likes.
 *
 *  Files are read with inih; line numbers come from counting the lines inih reads. A section
 *  or a key given twice, an indented line (which inih would glue to the value before it) and
 *  a line too long for inih's buffer are refused with their lines, in every INI file read here
 *  (program configs and the rules file alike).
 */
#ifndef EDU_CONFIG_H
#define EDU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CONFIG_STRING, // char *, allocated; freed by config_free()
    CONFIG_INT,    // long, within [min, max]
    CONFIG_BOOL,   // bool: true/false, yes/no, on/off, 1/0
    CONFIG_DOUBLE, // double, within [min, max]
} config_type_t;

/*  An extra check of a value's text (a code's form, say). Returns 0, or -1 with err. */
typedef int(config_check_fn)(const char *value, char *err, size_t errlen);

typedef struct {
    const char *section;       // "collector", or "webhook.*" for named sections
    const char *key;           // "inbox"
    config_type_t type;        // how the value is parsed and stored
    const char *default_value; // text of the default; NULL when the key is required
    double min, max;           // bounds for numbers (ignored when min == max == 0)
    size_t offset;             // where the value goes in the program's struct (not for "x.*")
    const char *description;   // one line for --help and the example file
    config_check_fn *check;    // extra check of the text, or NULL
} config_key_t;

/*  A config_check_fn for codes of exactly n decimal digits. */
int config_check_digits(const char *value, size_t n, char *err, size_t errlen);

/*  Called for each key of a named section: name is the part after the dot. Return 0, or -1
 *  with err to refuse the value (the loader adds the file and line). */
typedef int(config_named_fn)(void *arg, const char *prefix, const char *name, const char *key,
                             const char *value, char *err, size_t errlen);

/*  Loads path into out according to table; named sections go to named_fn (may be NULL when the
 *  table has none). Keys absent from the file get their defaults. Returns 0, or -1 with err
 *  naming the file, line and problem (unknown section or key, bad value, missing required key).
 *  On failure out may hold partial values: config_free() it. */
int config_load(const char *path, const config_key_t *table, void *out, config_named_fn *named_fn,
                void *named_arg, char *err, size_t errlen);

/*  Frees the strings that config_load() stored in out. */
void config_free(const config_key_t *table, void *out);

/*  Prints the table as an annotated INI file: every key at its default, described. */
void config_print_example(FILE *f, const config_key_t *table);

/*  Reads an INI file calling handler for each key with the line it is on and the line of its
 *  section's header, for files that are not program configs (the rules file). handler returns
 *  0, or -1 with err; config_parse_lines then returns -1 with "path:line: err". */
typedef int(config_line_fn)(void *arg, unsigned line, unsigned section_line, const char *section,
                            const char *key, const char *value, char *err, size_t errlen);
int config_parse_lines(const char *path, config_line_fn *handler, void *arg, char *err,
                       size_t errlen);

/*  The line of path on which [section] gives key, or 0 when it does not (the key is at its
 *  default); with key NULL, the line of the section's header (0: no key in it). For messages
 *  about a value found wrong after loading; section is the whole name of a named section
 *  ("county.430405"). */
unsigned config_key_line(const char *path, const char *section, const char *key);

/*  "path:LINE: [section] key", or "path: [section] key (not set: its default)", into buf (size
 *  bytes); returns buf. The start of a message about a value found wrong after loading. */
const char *config_where(const char *path, const char *section, const char *key, char *buf,
                         size_t size);

/*  What an endpoint is for: bound by ZeroMQ, connected to by ZeroMQ, or bound by the HTTP
 *  server (written ADDRESS:PORT without a scheme). */
typedef enum { CONFIG_BIND, CONFIG_CONNECT, CONFIG_HTTP } config_endpoint_use_t;

typedef struct {
    char host[256]; // as written ("*", "127.0.0.1", "county.example", "eth0")
    unsigned port;  // 1 to 65535
    bool any;       // every interface: * or 0.0.0.0
} config_endpoint_t;

/*  Parses and checks an endpoint: tcp://HOST:PORT (or ADDRESS:PORT for CONFIG_HTTP), PORT
 *  from 1 to 65535 (0 and ZeroMQ's * and ! ports, which pick a random port, are refused). To
 *  connect, HOST is an IPv4 address or a host name; to bind, * or an IPv4 address or a network
 *  interface of this machine (ZeroMQ does not look names up to bind); for HTTP, an IPv4
 *  address of this machine or 0.0.0.0. IPv6 is refused: the sockets are IPv4 only. Other
 *  transports (ipc://, inproc://) are refused. Returns 0 and fills out, or -1 with err. */
int config_endpoint_parse(const char *value, config_endpoint_use_t use, config_endpoint_t *out,
                          char *err, size_t errlen);

/*  config_check_fn's for the table: an endpoint to bind, one to connect to, and an HTTP
 *  ADDRESS:PORT (empty allowed: no HTTP). */
int config_check_bind(const char *value, char *err, size_t errlen);
int config_check_connect(const char *value, char *err, size_t errlen);
int config_check_http(const char *value, char *err, size_t errlen);

/*  True when two bound endpoints would take the same port (same port, and the same host or
 *  one of them every interface). */
bool config_endpoint_overlap(const config_endpoint_t *a, const config_endpoint_t *b);

/*  Parses a boolean word; returns 0 and sets *out, or -1. */
int config_parse_bool(const char *text, bool *out);

#endif
