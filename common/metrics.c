/*  metrics - counters, gauges and a histogram, rendered in Prometheus' text format */
#include "metrics.h"

#include "util.h"

#include <czmq.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EDU_VERSION
#define EDU_VERSION "unknown"
#endif
#if defined(__clang__)
#define S_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define S_COMPILER "gcc " __VERSION__
#else
#define S_COMPILER "unknown"
#endif

static const double s_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25,  0.5,    1,     2.5,  5,     10};
#define S_BUCKETS (sizeof s_buckets / sizeof *s_buckets)

typedef struct {
    char *name;       // metric name
    char *type;       // counter | gauge | histogram
    char *help;       // help line
    zlistx_t *series; // of s_series_t *, in order of first use
} s_metric_t;

typedef struct {
    char *labels;                         // label text, "" for none
    double value;                         // counter or gauge value; histogram sum
    unsigned long long count;             // histogram: observations
    unsigned long long bucket[S_BUCKETS]; // histogram: cumulative counts
} s_series_t;

struct metrics_t {
    pthread_mutex_t lock; // guards everything below
    zlistx_t *metrics;    // of s_metric_t *, in order of declaration
};

static void s_series_free(void **item)
{
    s_series_t *s = *item;
    if (s) {
        free(s->labels);
        free(s);
        *item = NULL;
    }
}

static void s_metric_free(void **item)
{
    s_metric_t *m = *item;
    if (m) {
        free(m->name), free(m->type), free(m->help);
        zlistx_destroy(&m->series);
        free(m);
        *item = NULL;
    }
}

metrics_t *metrics_new(void)
{
    metrics_t *self = xcalloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    self->metrics = zlistx_new();
    zlistx_set_destructor(self->metrics, s_metric_free);
    metrics_declare(self, "edu_build_info", "gauge",
                    "always 1; the labels say which build of eduwatch this is");
    char *labels = metrics_labels("version", EDU_VERSION, "compiler", S_COMPILER, NULL);
    metrics_set(self, "edu_build_info", labels, 1);
    free(labels);
    return self;
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    zlistx_destroy(&self->metrics);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static s_metric_t *s_metric(metrics_t *self, const char *name)
{
    for (s_metric_t *m = zlistx_first(self->metrics); m; m = zlistx_next(self->metrics))
        if (strcmp(m->name, name) == 0)
            return m;
    s_metric_t *m = xcalloc(1, sizeof *m);
    m->name = xstrdup(name);
    m->type = xstrdup("untyped");
    m->help = xstrdup("");
    m->series = zlistx_new();
    zlistx_set_destructor(m->series, s_series_free);
    zlistx_add_end(self->metrics, m);
    return m;
}

static s_series_t *s_series(s_metric_t *m, const char *labels)
{
    labels = labels ? labels : "";
    for (s_series_t *s = zlistx_first(m->series); s; s = zlistx_next(m->series))
        if (strcmp(s->labels, labels) == 0)
            return s;
    s_series_t *s = xcalloc(1, sizeof *s);
    s->labels = xstrdup(labels);
    zlistx_add_end(m->series, s);
    return s;
}

void metrics_declare(metrics_t *self, const char *name, const char *type, const char *help)
{
    pthread_mutex_lock(&self->lock);
    s_metric_t *m = s_metric(self, name);
    free(m->type), free(m->help);
    m->type = xstrdup(type);
    m->help = xstrdup(help);
    pthread_mutex_unlock(&self->lock);
}

void metrics_zero(metrics_t *self, const char *name, const char *labels)
{
    pthread_mutex_lock(&self->lock);
    s_series(s_metric(self, name), labels);
    pthread_mutex_unlock(&self->lock);
}

void metrics_add(metrics_t *self, const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&self->lock);
    s_series(s_metric(self, name), labels)->value += v;
    pthread_mutex_unlock(&self->lock);
}

void metrics_set(metrics_t *self, const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&self->lock);
    s_series(s_metric(self, name), labels)->value = v;
    pthread_mutex_unlock(&self->lock);
}

void metrics_set_all(metrics_t *self, const char *name, size_t n, const char *const *labels,
                     const double *values)
{
    pthread_mutex_lock(&self->lock);
    s_metric_t *m = s_metric(self, name);
    for (s_series_t *s = zlistx_first(m->series); s; s = zlistx_next(m->series))
        s->value = 0;
    for (size_t i = 0; i < n; i++)
        s_series(m, labels[i])->value = values[i];
    pthread_mutex_unlock(&self->lock);
}

void metrics_clear(metrics_t *self, const char *name)
{
    pthread_mutex_lock(&self->lock);
    zlistx_purge(s_metric(self, name)->series);
    pthread_mutex_unlock(&self->lock);
}

void metrics_observe(metrics_t *self, const char *name, double v)
{
    pthread_mutex_lock(&self->lock);
    s_series_t *s = s_series(s_metric(self, name), NULL);
    s->value += v;
    s->count++;
    for (size_t i = 0; i < S_BUCKETS; i++)
        s->bucket[i] += v <= s_buckets[i];
    pthread_mutex_unlock(&self->lock);
}

char *metrics_labels(const char *name, const char *value, ...)
{
    zchunk_t *out = zchunk_new(NULL, 64);
    va_list ap;
    va_start(ap, value);
    for (bool first = true; name; first = false) {
        if (!first)
            zchunk_extend(out, ",", 1);
        zchunk_extend(out, name, strlen(name));
        zchunk_extend(out, "=\"", 2);
        for (const char *c = value ? value : ""; *c; c++) {
            const char *escaped = *c == '\\'   ? "\\\\"
                                  : *c == '"'  ? "\\\""
                                  : *c == '\n' ? "\\n"
                                               : NULL;
            zchunk_extend(out, escaped ? escaped : c, escaped ? 2 : 1); // \\ \" \n: two bytes
        }
        zchunk_extend(out, "\"", 1);
        name = va_arg(ap, const char *);
        value = name ? va_arg(ap, const char *) : NULL;
    }
    va_end(ap);
    char *text = xstrndup((const char *) zchunk_data(out), zchunk_size(out));
    zchunk_destroy(&out);
    return text;
}

/*  A sample value as the text format spells it (Go's ParseFloat: +Inf, -Inf, NaN). */
static const char *s_value(char *buf, size_t size, double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    snprintf(buf, size, "%.17g", v);
    return buf;
}

/*  Appends a formatted line; a line longer than the buffer is dropped whole, never cut. */
__attribute__((format(printf, 2, 3))) static void s_line(zchunk_t *out, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t) n < sizeof line)
        zchunk_extend(out, line, (size_t) n);
}

char *metrics_render(metrics_t *self)
{
    zchunk_t *out = zchunk_new(NULL, 4096);
    char value[32];
    pthread_mutex_lock(&self->lock);
    for (s_metric_t *m = zlistx_first(self->metrics); m; m = zlistx_next(self->metrics)) {
        s_line(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, m->type);
        for (s_series_t *s = zlistx_first(m->series); s; s = zlistx_next(m->series)) {
            if (strcmp(m->type, "histogram") == 0) {
                for (size_t i = 0; i < S_BUCKETS; i++)
                    s_line(out, "%s_bucket{le=\"%g\"} %llu\n", m->name, s_buckets[i], s->bucket[i]);
                s_line(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %s\n%s_count %llu\n", m->name,
                       s->count, m->name, s_value(value, sizeof value, s->value), m->name,
                       s->count);
            } else if (*s->labels) {
                s_line(out, "%s{%s} %s\n", m->name, s->labels,
                       s_value(value, sizeof value, s->value));
            } else {
                s_line(out, "%s %s\n", m->name, s_value(value, sizeof value, s->value));
            }
        }
    }
    pthread_mutex_unlock(&self->lock);
    char *text = xmalloc(zchunk_size(out) + 1);
    memcpy(text, zchunk_data(out), zchunk_size(out));
    text[zchunk_size(out)] = '\0';
    zchunk_destroy(&out);
    return text;
}
