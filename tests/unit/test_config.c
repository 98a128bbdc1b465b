/*  test_config - the table-driven INI loader: values, defaults, and every refusal */
#include "config.h"
#include "period.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name;
    char *code;
    long port;
    bool on;
    double ratio;
    char *hook_urls; // named-section values seen, joined
} s_conf_t;

static int s_check_code(const char *value, char *err, size_t errlen)
{
    return config_check_digits(value, 6, err, errlen);
}

static const config_key_t s_keys[] = {
    {"main", "name", CONFIG_STRING, NULL, 0, 0, offsetof(s_conf_t, name), "required name", NULL},
    {"main", "code", CONFIG_STRING, "430405", 0, 0, offsetof(s_conf_t, code), "a code",
     s_check_code},
    {"main", "port", CONFIG_INT, "5555", 1, 65535, offsetof(s_conf_t, port), "a port", NULL},
    {"main", "ratio", CONFIG_DOUBLE, "0.5", 0, 1, offsetof(s_conf_t, ratio), "a ratio", NULL},
    {"other", "on", CONFIG_BOOL, "true", 0, 0, offsetof(s_conf_t, on), "a switch", NULL},
    {"hook.*", "url", CONFIG_STRING, NULL, 0, 0, 0, "a named url", NULL},
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static int s_named(void *arg, const char *prefix, const char *name, const char *key,
                   const char *value, char *err, size_t errlen)
{
    s_conf_t *c = arg;
    if (strcmp(value, "bad") == 0)
        return errorf(err, errlen, "url = \"bad\" is refused");
    char *joined = xasprintf("%s%s.%s.%s=%s;", c->hook_urls ? c->hook_urls : "", prefix, name,
                             key, value);
    free(c->hook_urls);
    c->hook_urls = joined;
    return 0;
}

static char *s_write(const char *text)
{
    char *path = strdup("/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static int s_load(const char *text, s_conf_t *c, char *err, size_t errlen)
{
    char *path = s_write(text);
    *c = (s_conf_t){0};
    int rc = config_load(path, s_keys, c, s_named, c, err, errlen);
    unlink(path);
    free(path);
    return rc;
}

static void s_free(s_conf_t *c)
{
    config_free(s_keys, c);
    free(c->hook_urls);
}

Test(config, values_defaults_and_comments)
{
    s_conf_t c;
    char err[256] = "";
    int rc = s_load("; a comment\n# another\n[main]\nname = 第1学校 ; inline comment\n"
                    "ratio = 0.25\t# a hash comment\n[other]\non = no # off\n[hook.robot]\n"
                    "url = http://x/y#top   # the fragment stays, the comment goes\n",
                    &c, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(c.name, "第1学校");
    cr_assert_eq(c.port, 5555);
    cr_assert_float_eq(c.ratio, 0.25, 1e-12);
    cr_assert_eq(c.on, false);
    cr_assert_str_eq(c.hook_urls, "hook.robot.url=http://x/y#top;");
    s_free(&c);
}

typedef struct {
    const char *text;     // file content
    const char *expected; // substring of the error, after the temp file's name
} s_bad_t;

Test(config, refusals_name_line_and_problem)
{
    static const s_bad_t cases[] = {
        {"[main]\nname = a\nbogus = 1\n", ":3: unknown key \"bogus\" in section [main]"},
        {"[main]\nname = a\n[nowhere]\nx = 1\n", ":4: unknown section [nowhere]"},
        {"[main]\nname = a\nport = 70000\n", ":3: value 70000 for \"port\" is out of range"},
        {"[main]\nname = a\nport = 12ab\n", ":3: invalid value \"12ab\" for \"port\""},
        {"[main]\nname = a\nratio = x\n", ":3: invalid value \"x\" for \"ratio\""},
        {"[main]\nname = a\n[other]\non = maybe\n", ":4: invalid value \"maybe\" for \"on\""},
        {"[main]\nport = 1\n", ": missing key \"name\" in section [main]"},
        {"[main]\nname = a\n[hook.r]\nurl = bad\n", ":4: url = \"bad\" is refused"},
        {"[main]\nname = a\n[hook.r]\ncolour = red\n", ":4: unknown key \"colour\" in section [hook.r]"},
        {"[main]\nname = a\nthis line has no equals\n", ":3: cannot parse line"},
        {"[hook.]\nurl = x\n", ":2: unknown section [hook.]"},
        {"[main]\nname = a\ncode = 43040\n", ":3: code: \"43040\" is not a 6-digit code"},
        {"[main]\nname = a\ncode = 430405x # comment\n", ":3: code: \"430405x\" is not"},
        {"[main]\nname = a\ncode = 43040x\n", ":3: code: \"43040x\" is not a 6-digit code"},
        // 50 characters: more than inih keeps of a section's name
        {"[main]\nname = a\n[hook.123456789012345678901234567890123456789012345]\nurl = x\n",
         ":3: section name \"hook.123456789012345...\" is longer than 49 characters"},
        // given twice: the second one is named, with the first one's line
        {"[main]\nname = a\nport = 1\n\nport = 2\n",
         ":5: key \"port\" is given twice in section [main] (lines 3 and 5): keep one"},
        {"[main]\nname = a\n[other]\non = yes\n[main]\nport = 1\n",
         ":5: section [main] is given twice (lines 1 and 5): merge them into one"},
        {"[main]\nname = a\n[hook.r]\nurl = x\n[hook.r]\nurl = y\n",
         ":5: section [hook.r] is given twice (lines 3 and 5)"},
        {"[main]\n[main]\nname = a\n", ":2: section [main] is given twice (lines 1 and 2)"},
        {"\xEF\xBB\xBF[main]\nname = a\n[main]\n",
         ":3: section [main] is given twice (lines 1 and 3)"},
        // an indented line would continue the value before it (inih's multi-line values)
        {"[main]\nname = a\n  port = 1\n",
         ":3: line is indented, so it would continue the value of \"name\" (line 2)"},
        {"[main]\nname = a\n\n\tport = 1\n", ":4: line is indented, so it would continue"},
        {"[main]\nname = a\n  [other]\n", ":3: line is indented, so it would continue"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_conf_t c;
        char err[512] = "";
        cr_expect_eq(s_load(cases[i].text, &c, err, sizeof err), -1, "case %zu accepted", i);
        cr_expect(strstr(err, "/tmp/test_config_") == err, "case %zu: no file name in \"%s\"", i,
                  err);
        cr_expect(strstr(err, cases[i].expected) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err,
                  cases[i].expected);
        s_free(&c);
    }
}

Test(config, a_section_name_of_49_characters_is_kept_whole)
{
    s_conf_t c;
    char err[512] = "";
    cr_assert_eq(s_load("[main]\nname = a\n[hook.12345678901234567890123456789012345678901234]\n"
                        "url = x\n",
                        &c, err, sizeof err),
                 0, "%s", err);
    cr_expect_str_eq(c.hook_urls, "hook.12345678901234567890123456789012345678901234.url=x;");
    s_free(&c);
}

Test(config, what_inih_reads_whole_is_accepted)
{
    // indented lines that continue nothing, comments and blank lines after a key, a BOM
    s_conf_t c;
    char err[512] = "";
    cr_assert_eq(s_load("\xEF\xBB\xBF[main]\n  name = a\n  ; a comment\n\n  # another\n"
                        "port = 7\n[other]\n  on = false\n",
                        &c, err, sizeof err),
                 0, "%s", err);
    cr_expect_str_eq(c.name, "a");
    cr_expect_eq(c.port, 7);
    cr_expect_eq(c.on, false);
    s_free(&c);
}

Test(config, a_line_fits_inih_up_to_its_bound)
{
    // inih reads a line into 200 bytes with its newline: 198 bytes are read whole, a longer line
    // is refused with its line instead of being read as two lines
    for (size_t len = 196; len <= 200; len++) {
        char line[256];
        int n = snprintf(line, sizeof line, "name = ");
        memset(line + n, 'x', len - (size_t) n);
        line[len] = '\0';
        char *text = xasprintf("[main]\n%s\nport = 2\n", line);
        s_conf_t c;
        char err[512] = "";
        int rc = s_load(text, &c, err, sizeof err);
        if (len <= 198) {
            cr_expect_eq(rc, 0, "a line of %zu bytes: %s", len, err);
            cr_expect(c.name && strlen(c.name) == len - 7, "a line of %zu bytes cut", len);
        } else {
            cr_expect_eq(rc, -1, "a line of %zu bytes accepted", len);
            cr_expect(strstr(err, ":2: line is longer than 198 bytes"), "%zu: %s", len, err);
        }
        s_free(&c);
        free(text);
    }
}

Test(config, key_lines_for_later_messages)
{
    char *path = s_write("[main]\nname = a\n\nport = 5\n[hook.r]\nurl = x\n");
    cr_expect_eq(config_key_line(path, "main", "port"), 4);
    cr_expect_eq(config_key_line(path, "main", "ratio"), 0);
    cr_expect_eq(config_key_line(path, "hook.r", "url"), 6);
    cr_expect_eq(config_key_line(path, "hook.r", NULL), 5);
    cr_expect_eq(config_key_line(path, "other", NULL), 0);
    char buf[512], want[512];
    snprintf(want, sizeof want, "%s:4: [main] port", path);
    cr_expect_str_eq(config_where(path, "main", "port", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s: [main] ratio (not set: its default)", path);
    cr_expect_str_eq(config_where(path, "main", "ratio", buf, sizeof buf), want);
    unlink(path);
    free(path);
}

typedef struct {
    const char *value;         // as written in the file
    config_endpoint_use_t use; // bind, connect or HTTP
    const char *expected;      // NULL: accepted; else a part of the refusal
} s_endpoint_t;

Test(config, endpoints)
{
    static const s_endpoint_t cases[] = {
        {"tcp://*:5555", CONFIG_BIND, NULL},
        {"tcp://127.0.0.1:1", CONFIG_BIND, NULL},
        {"tcp://0.0.0.0:65535", CONFIG_BIND, NULL},
        {"tcp://lo:5555", CONFIG_BIND, NULL}, // a network interface
        {"tcp://127.0.0.1:5555", CONFIG_CONNECT, NULL},
        {"tcp://county-430405.example:5557", CONFIG_CONNECT, NULL},
        {"tcp://localhost:5555", CONFIG_CONNECT, NULL},
        {"127.0.0.1:9101", CONFIG_HTTP, NULL},
        {"0.0.0.0:9101", CONFIG_HTTP, NULL},
        // ports
        {"tcp://*:0", CONFIG_BIND, "port 0 would be a random port"},
        {"tcp://*:*", CONFIG_BIND, "port * would be a random port"},
        {"tcp://*:!", CONFIG_BIND, "port ! would be a random port"},
        {"tcp://*:*[60000-]", CONFIG_BIND, "would be a random port"},
        {"tcp://127.0.0.1:65536", CONFIG_CONNECT, "\"65536\" is not a port from 1 to 65535"},
        {"tcp://127.0.0.1:99999999999", CONFIG_CONNECT, "is not a port from 1 to 65535"},
        {"tcp://127.0.0.1:-1", CONFIG_CONNECT, "is not a port from 1 to 65535"},
        {"tcp://127.0.0.1:+80", CONFIG_CONNECT, "is not a port from 1 to 65535"},
        {"tcp://127.0.0.1:80 ", CONFIG_CONNECT, "is not a port from 1 to 65535"},
        {"tcp://127.0.0.1", CONFIG_CONNECT, "has no port"},
        {"tcp://127.0.0.1:", CONFIG_CONNECT, "is not a port"},
        {"127.0.0.1:0", CONFIG_HTTP, "port 0 would be a random port"},
        {"127.0.0.1:http", CONFIG_HTTP, "is not a port from 1 to 65535"},
        // transports and forms
        {"ipc:///run/edu.sock", CONFIG_BIND, "not a tcp:// endpoint (ipc:// is not supported)"},
        {"inproc://x", CONFIG_CONNECT, "(inproc:// is not supported)"},
        {"127.0.0.1:5555", CONFIG_CONNECT, "is not an endpoint: write tcp://HOST:PORT"},
        {"", CONFIG_BIND, "is not an endpoint"},
        {"tcp://:5555", CONFIG_CONNECT, "has no host"},
        // hosts
        {"tcp://*:5555", CONFIG_CONNECT, "* (every interface) can only be listened on"},
        {"*:9101", CONFIG_HTTP, "give 0.0.0.0 for every interface"},
        {"tcp://[::1]:5555", CONFIG_BIND, "IPv6 addresses are not supported"},
        {"tcp://[::1]:5555", CONFIG_CONNECT, "IPv6 addresses are not supported"},
        {"tcp://::1:5555", CONFIG_CONNECT, "IPv6 addresses are not supported"},
        {"tcp://localhost:5555", CONFIG_BIND, "neither an IPv4 address nor a network interface"},
        {"tcp://198.51.100.254:5555", CONFIG_BIND, "is not an address of this machine"},
        {"198.51.100.254:9101", CONFIG_HTTP, "is not an address of this machine"},
        {"localhost:9101", CONFIG_HTTP, "\"localhost\" is not an IPv4 address"},
        {"tcp://300.1.1.1:5555", CONFIG_CONNECT, "\"300.1.1.1\" is not an IPv4 address"},
        {"tcp://county_x.example:5555", CONFIG_CONNECT, "is not a host name or an IPv4 address"},
        {"tcp://-x.example:5555", CONFIG_CONNECT, "is not a host name"},
        {"tcp://a..b:5555", CONFIG_CONNECT, "is not a host name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        config_endpoint_t ep = {0};
        char err[512] = "";
        int rc = config_endpoint_parse(cases[i].value, cases[i].use, &ep, err, sizeof err);
        if (!cases[i].expected) {
            cr_expect_eq(rc, 0, "case %zu \"%s\": %s", i, cases[i].value, err);
            cr_expect(ep.port >= 1 && ep.port <= 65535, "case %zu: port %u", i, ep.port);
        } else {
            cr_expect_eq(rc, -1, "case %zu \"%s\" accepted", i, cases[i].value);
            cr_expect(strstr(err, cases[i].expected), "case %zu: \"%s\" lacks \"%s\"", i, err,
                      cases[i].expected);
        }
    }
    cr_expect_eq(config_check_http("", NULL, 0), 0, "an empty http key means no HTTP");
}

Test(config, endpoints_that_take_the_same_port)
{
    static const struct {
        const char *a, *b;
        bool overlap;
    } cases[] = {
        {"tcp://*:5555", "tcp://127.0.0.1:5555", true},
        {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555", true},
        {"tcp://0.0.0.0:5555", "tcp://127.0.0.1:5555", true},
        {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556", false},
        {"tcp://127.0.0.1:5555", "tcp://127.0.0.2:5555", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        config_endpoint_t a, b;
        char err[512];
        cr_assert_eq(config_endpoint_parse(cases[i].a, CONFIG_BIND, &a, err, sizeof err), 0, "%s",
                     err);
        cr_assert_eq(config_endpoint_parse(cases[i].b, CONFIG_BIND, &b, err, sizeof err), 0, "%s",
                     err);
        cr_expect_eq(config_endpoint_overlap(&a, &b), cases[i].overlap, "case %zu", i);
    }
}

Test(config, missing_file)
{
    s_conf_t c = {0};
    char err[256] = "";
    cr_assert_eq(config_load("/nonexistent/x.ini", s_keys, &c, NULL, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "could not open \"/nonexistent/x.ini\"") != NULL, "%s", err);
}

Test(config, example_lists_every_key_at_default)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_print_example(f, s_keys);
    fclose(f);
    cr_assert(strstr(buf, "[main]\n") && strstr(buf, "port = 5555\n") &&
              strstr(buf, "name =              ; required") && strstr(buf, "[hook.NAME]") &&
              strstr(buf, "(1 to 65535)"), "%s", buf);
    free(buf);
}

Test(config, booleans)
{
    static const struct { const char *text; int expected; } cases[] = {
        {"true", 1}, {"YES", 1}, {"on", 1}, {"1", 1}, {"false", 0},
        {"No", 0},   {"off", 0}, {"0", 0},  {"", -1}, {"2", -1}, {"truee", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool out = false;
        int rc = config_parse_bool(cases[i].text, &out);
        if (cases[i].expected < 0)
            cr_expect_eq(rc, -1, "\"%s\"", cases[i].text);
        else
            cr_expect(rc == 0 && out == (bool) cases[i].expected, "\"%s\"", cases[i].text);
    }
}

Test(period, academic_years)
{
    static const struct { const char *text; int year; } cases[] = {
        {"2025-2026", 2025}, {"2023-2024", 2023}, {"2025-2027", -1}, {"2025-2025", -1},
        {"2025/2026", -1},   {"25-26", -1},       {"2025-2026 ", -1}, {"", -1},
        {"abcd-abce", -1},   {"1899-1900", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int year = 0;
        int rc = period_parse(cases[i].text, &year);
        if (cases[i].year < 0)
            cr_expect_eq(rc, -1, "\"%s\" accepted", cases[i].text);
        else
            cr_expect(rc == 0 && year == cases[i].year, "\"%s\"", cases[i].text);
    }
}

Test(period, iso_timestamps)
{
    static const struct { const char *text; long long epoch; } cases[] = {
        {"2025-11-08T12:00:00+08:00", 1762574400LL},
        {"2025-11-08T04:00:00Z", 1762574400LL},
        {"2025-11-08T04:00:00.123Z", 1762574400LL},
        {"2025-11-08", 1762560000LL},
        {"2025-11-08T25:00:00Z", -1},
        {"2025-13-08", -1},
        {"yesterday", -1},
        {"2025-11-08T04:00:00+0800", 1762545600LL},
        {"2025-11-08T12:00+08:00", 1762574400LL},
        {"2025-11-08T12:00+08", 1762574400LL},
        {"2025-11-08T12:00+8", -1},
        {"2025-11-08T12+08:00", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        time_t t = 0;
        int rc = period_parse_time(cases[i].text, &t);
        if (cases[i].epoch < 0)
            cr_expect_eq(rc, -1, "\"%s\" accepted", cases[i].text);
        else
            cr_expect(rc == 0 && (long long) t == cases[i].epoch, "\"%s\" gave %lld",
                      cases[i].text, (long long) t);
    }
}
