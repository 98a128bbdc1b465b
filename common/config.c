/*  config - INI files read through a table of known keys
 *
 *  inih calls us once per key but does not say on which line; we hand it our own line reader
 *  (ini_parse_stream), which counts the lines as it gives them out, so every error can name
 *  its line. The first error wins; later lines are still read by inih but ignored. The reader
 *  also sees what inih reads silently: a header or key seen before (a set of seen section and
 *  section/key names), an indented line that inih would glue to the value before it, a line
 *  longer than inih's buffer (which it would read as two lines).
 */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

// inih keeps this many bytes of a section's name, terminator included (MAX_SECTION in its
// ini.c), and cuts a longer one without a word: such a header is refused here instead
#define S_INIH_MAX_SECTION 50
// what a message about a continued value shows of the key before it
#define S_KEY_SHOWN 64

typedef struct {
    FILE *file;                 // the file being read
    const char *path;           // its name, for messages
    unsigned line;              // lines handed to inih so far
    bool at_line_start;         // the previous chunk ended with a newline
    unsigned section_line;      // line of the latest [section] header
    char last_key[S_KEY_SHOWN]; // latest key of this section ("" since the header)
    unsigned last_key_line;     // its line
    zhashx_t *seen;             // "section" and "section\x1fkey" -> first line, as a pointer
    config_line_fn *handler;    // per-key callback
    void *arg;                  // its argument
    char error[512];            // first error, without file and line
    unsigned error_line;        // its line (0: none yet)
} s_reader_t;

/*  Records the first error (later ones are ignored: inih reads on). */
static void s_fail(s_reader_t *self, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_fail(s_reader_t *self, unsigned line, const char *fmt, ...)
{
    if (self->error_line)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
    self->error_line = line;
}

/*  The line a section or key was first given on (0: not yet), and records this one. */
static unsigned s_seen(s_reader_t *self, const char *section, const char *key, unsigned line)
{
    char *name = key ? xasprintf("%s\x1f%s", section, key) : xstrdup(section);
    unsigned first = (unsigned) (uintptr_t) zhashx_lookup(self->seen, name);
    if (!first)
        zhashx_insert(self->seen, name, (void *) (uintptr_t) line);
    free(name);
    return first;
}

/*  A header line: the section's name as inih reads it (up to the first `]`), or a refusal. */
static void s_header(s_reader_t *self, const char *header)
{
    size_t len = strcspn(header + 1, "]\r\n");
    self->section_line = self->line;
    self->last_key[0] = '\0';
    if (len >= S_INIH_MAX_SECTION) {
        s_fail(self, self->line, "section name \"%.20s...\" is longer than %d characters",
               header + 1, S_INIH_MAX_SECTION - 1);
        return;
    }
    if (header[1 + len] != ']')
        return; // inih refuses it: "cannot parse line"
    char section[S_INIH_MAX_SECTION];
    snprintf(section, sizeof section, "%.*s", (int) len, header + 1);
    unsigned first = s_seen(self, section, NULL, self->line);
    if (first)
        s_fail(self, self->line,
               "section [%s] is given twice (lines %u and %u): merge them into one", section, first,
               self->line);
}

static char *s_read_line(char *str, int num, void *stream)
{
    s_reader_t *self = stream;
    char *got = fgets(str, num, self->file);
    if (!got)
        return NULL;
    bool complete = strchr(got, '\n') || feof(self->file);
    if (self->at_line_start) {
        self->line++;
        const char *start = got;
        if (self->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
            start += 3; // a UTF-8 BOM, which inih skips too
        const char *text = start + strspn(start, " \t\v\f");
        bool blank_or_comment = strchr(";#\r\n", *text) != NULL; // also '\0'
        if (!complete)
            s_fail(self, self->line, "line is longer than %d bytes: shorten it", num - 2);
        else if (text > start && !blank_or_comment && self->last_key[0])
            // inih would take it as more of the previous value (Python's multi-line values)
            s_fail(self, self->line,
                   "line is indented, so it would continue the value of \"%s\" (line %u): start "
                   "it at the beginning of the line (a value cannot span lines)",
                   self->last_key, self->last_key_line);
        else if (*text == '[')
            s_header(self, text);
    }
    self->at_line_start = strchr(got, '\n') != NULL;
    return got;
}

static int s_on_key(void *user, const char *section, const char *key, const char *value)
{
    s_reader_t *self = user;
    if (self->error_line)
        return 1;
    unsigned first = s_seen(self, section, key, self->line);
    if (first) {
        s_fail(self, self->line,
               "key \"%s\" is given twice in section [%s] (lines %u and %u): "
               "keep one",
               key, section, first, self->line);
        return 1;
    }
    snprintf(self->last_key, sizeof self->last_key, "%s", key);
    self->last_key_line = self->line;
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
                      sizeof err) != 0)
        s_fail(self, self->line, "%s", err);
    return 1;
}

int config_parse_lines(const char *path, config_line_fn *handler, void *arg, char *err,
                       size_t errlen)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return errorf(err, errlen, "could not open \"%s\": %s", path, strerror(errno));
    s_reader_t reader = {.file = file,
                         .path = path,
                         .at_line_start = true,
                         .seen = zhashx_new(),
                         .handler = handler,
                         .arg = arg};
    int rc = ini_parse_stream(s_read_line, &reader, s_on_key, &reader);
    fclose(file);
    zhashx_destroy(&reader.seen);
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
    char inner[512];
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

/*  text as comment lines of at most about 96 columns (a line the reader takes is at most 198
 *  bytes), broken at spaces, never inside a UTF-8 character. */
static void s_print_comment(FILE *f, const char *off, const char *text)
{
    (void) off;
    const size_t width = 96;
    while (*text) {
        size_t n = strlen(text);
        if (n > width) {
            size_t cut = width;
            while (cut > width / 2 && text[cut] != ' ')
                cut--;
            if (text[cut] != ' ') { // no space: cut at a character boundary
                cut = width;
                while (cut > 0 && ((unsigned char) text[cut] & 0xc0) == 0x80)
                    cut--;
            }
            n = cut;
        }
        fprintf(f, "; %.*s\n", (int) n, text);
        text += n;
        while (*text == ' ')
            text++;
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
        char text[1024];
        int n = snprintf(text, sizeof text, "%s", k->description);
        if (s_has_bounds(k) && n > 0 && (size_t) n < sizeof text)
            snprintf(text + n, sizeof text - (size_t) n, " (%g to %g)", k->min, k->max);
        s_print_comment(f, off, text);
        if (k->default_value)
            fprintf(f, "%s%s = %s\n", off, k->key, k->default_value);
        else
            fprintf(f, "%s%s =              ; required\n", off, k->key);
    }
}

typedef struct {
    const char *section; // wanted
    const char *key;     // wanted (NULL: the section's header)
    unsigned line;       // found on (0: not given)
} s_find_t;

static int s_on_find(void *arg, unsigned line, unsigned section_line, const char *section,
                     const char *key, const char *value, char *err, size_t errlen)
{
    (void) section_line, (void) value, (void) err, (void) errlen;
    s_find_t *self = arg;
    if (strcmp(section, self->section) == 0 && !self->key && !self->line)
        self->line = section_line;
    else if (strcmp(section, self->section) == 0 && self->key && strcmp(key, self->key) == 0)
        self->line = line;
    return 0;
}

unsigned config_key_line(const char *path, const char *section, const char *key)
{
    s_find_t find = {.section = section, .key = key};
    char err[16];
    config_parse_lines(path, s_on_find, &find, err, sizeof err);
    return find.line;
}

const char *config_where(const char *path, const char *section, const char *key, char *buf,
                         size_t size)
{
    unsigned line = config_key_line(path, section, key);
    if (line)
        snprintf(buf, size, "%s:%u: [%s] %s", path, line, section, key);
    else
        snprintf(buf, size, "%s: [%s] %s (not set: its default)", path, section, key);
    return buf;
}

//  --------------------------------------------------------------------------
//  Endpoints

/*  A host name as DNS spells it: labels of letters, digits and '-', 1 to 63 bytes each, not
 *  starting or ending with '-', 253 bytes at most in all. */
static bool s_host_name(const char *host)
{
    size_t len = strlen(host);
    if (len == 0 || len > 253)
        return false;
    const char *label = host;
    while (true) {
        size_t n = strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
        if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
            return false;
        if (label[n] == '\0')
            return true;
        if (label[n] != '.')
            return false;
        label += n + 1;
    }
}

/*  Whether this machine has the IPv4 address (binding it with port 0 says; nothing listens). */
static bool s_local_address(const struct in_addr *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true; // cannot tell: let the start say
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = *addr, .sin_port = 0};
    bool ok = bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 || errno != EADDRNOTAVAIL;
    close(fd);
    return ok;
}

int config_endpoint_parse(const char *value, config_endpoint_use_t use, config_endpoint_t *out,
                          char *err, size_t errlen)
{
    bool bind_it = use != CONFIG_CONNECT;
    const char *rest = value;
    if (use != CONFIG_HTTP) {
        if (strncmp(value, "tcp://", 6) != 0) {
            const char *colon = strstr(value, "://");
            if (colon)
                return errorf(err, errlen,
                              "\"%s\" is not a tcp:// endpoint (%.*s:// is not supported): write "
                              "tcp://HOST:PORT",
                              value, (int) (colon - value), value);
            return errorf(err, errlen, "\"%s\" is not an endpoint: write tcp://HOST:PORT", value);
        }
        rest = value + 6;
    }
    const char *colon = strrchr(rest, ':');
    if (!colon)
        return errorf(err, errlen, "\"%s\" has no port: write %sHOST:PORT", value,
                      use == CONFIG_HTTP ? "" : "tcp://");
    config_endpoint_t ep = {0};
    size_t host_len = (size_t) (colon - rest);
    if (host_len >= sizeof ep.host)
        return errorf(err, errlen, "\"%s\": the host is longer than %zu bytes", value,
                      sizeof ep.host - 1);
    memcpy(ep.host, rest, host_len);
    const char *port = colon + 1;
    // the port: 1 to 65535; 0, * and ! would make ZeroMQ (or the HTTP server) pick one at random
    if (strcmp(port, "0") == 0 || port[0] == '*' || port[0] == '!')
        return errorf(err, errlen,
                      "\"%s\": port %s would be a random port that nobody can find: give a "
                      "fixed port from 1 to 65535",
                      value, port);
    size_t digits = strspn(port, "0123456789");
    if (digits == 0 || port[digits] != '\0' || digits > 5 || atol(port) < 1 || atol(port) > 65535)
        return errorf(err, errlen, "\"%s\": \"%s\" is not a port from 1 to 65535", value, port);
    ep.port = (unsigned) atol(port);
    // the host
    struct in_addr addr;
    if (host_len == 0)
        return errorf(err, errlen, "\"%s\" has no host: write %sHOST:PORT", value,
                      use == CONFIG_HTTP ? "" : "tcp://");
    if (strcmp(ep.host, "*") == 0) {
        if (use == CONFIG_CONNECT)
            return errorf(err, errlen,
                          "\"%s\": * (every interface) can only be listened on: give the host "
                          "to connect to",
                          value);
        if (use == CONFIG_HTTP)
            return errorf(err, errlen,
                          "\"%s\": * is not an address here: give 0.0.0.0 for every interface, "
                          "or one address of this machine (127.0.0.1 for this machine only)",
                          value);
        ep.any = true;
    } else if (ep.host[0] == '[' || strchr(ep.host, ':')) {
        return errorf(err, errlen,
                      "\"%s\": IPv6 addresses are not supported (the sockets are IPv4 only): give "
                      "an IPv4 address%s",
                      value, bind_it ? "" : " or a host name");
    } else if (inet_pton(AF_INET, ep.host, &addr) == 1) {
        ep.any = addr.s_addr == htonl(INADDR_ANY);
        if (bind_it && !ep.any && !s_local_address(&addr))
            return errorf(err, errlen,
                          "\"%s\": %s is not an address of this machine: give one of its own "
                          "addresses, or %s for every interface",
                          value, ep.host, use == CONFIG_HTTP ? "0.0.0.0" : "*");
    } else if (strspn(ep.host, "0123456789.") == host_len) {
        return errorf(err, errlen, "\"%s\": \"%s\" is not an IPv4 address", value, ep.host);
    } else if (use == CONFIG_HTTP) {
        return errorf(err, errlen,
                      "\"%s\": \"%s\" is not an IPv4 address: give one of this machine's "
                      "addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface)",
                      value, ep.host);
    } else if (use == CONFIG_BIND) {
        // ZeroMQ binds an address, * or a network interface's name; it does not look names up
        if (!if_nametoindex(ep.host))
            return errorf(err, errlen,
                          "\"%s\": \"%s\" is neither an IPv4 address nor a network interface of "
                          "this machine: give one of its addresses (127.0.0.1 for this machine "
                          "only) or * for every interface",
                          value, ep.host);
    } else if (!s_host_name(ep.host)) {
        return errorf(err, errlen, "\"%s\": \"%s\" is not a host name or an IPv4 address", value,
                      ep.host);
    }
    *out = ep;
    return 0;
}

int config_check_bind(const char *value, char *err, size_t errlen)
{
    config_endpoint_t ep;
    return config_endpoint_parse(value, CONFIG_BIND, &ep, err, errlen);
}

int config_check_connect(const char *value, char *err, size_t errlen)
{
    config_endpoint_t ep;
    return config_endpoint_parse(value, CONFIG_CONNECT, &ep, err, errlen);
}

int config_check_http(const char *value, char *err, size_t errlen)
{
    config_endpoint_t ep;
    return *value ? config_endpoint_parse(value, CONFIG_HTTP, &ep, err, errlen) : 0;
}

bool config_endpoint_overlap(const config_endpoint_t *a, const config_endpoint_t *b)
{
    return a->port == b->port && (a->any || b->any || strcmp(a->host, b->host) == 0);
}
