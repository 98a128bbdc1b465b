/*  metrics - counters, gauges and a histogram, rendered in Prometheus' text format */
#include "metrics.h"

#include "util.h"

#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double s_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,   0.25,   0.5,   1,    2.5,   5,    10};
#define S_BUCKETS (sizeof s_buckets / sizeof *s_buckets)

typedef struct {
    char *name;                  // metric name
    char *type;                  // counter | gauge | histogram
    char *help;                  // help line
    zlistx_t *series;            // of s_series_t *, in order of first use
} s_metric_t;

typedef struct {
    char *labels;                // label text, "" for none
    double value;                // counter or gauge value; histogram sum
    unsigned long long count;    // histogram: observations
    unsigned long long bucket[S_BUCKETS]; // histogram: cumulative counts
} s_series_t;

struct metrics_t {
    pthread_mutex_t lock;        // guards everything below
    zlistx_t *metrics;           // of s_metric_t *, in order of declaration
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

char *metrics_render(metrics_t *self)
{
    zchunk_t *out = zchunk_new(NULL, 4096);
    char line[1024];
    pthread_mutex_lock(&self->lock);
    for (s_metric_t *m = zlistx_first(self->metrics); m; m = zlistx_next(self->metrics)) {
        int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
                         m->name, m->type);
        zchunk_extend(out, line, (size_t) n);
        for (s_series_t *s = zlistx_first(m->series); s; s = zlistx_next(m->series)) {
            if (strcmp(m->type, "histogram") == 0) {
                for (size_t i = 0; i < S_BUCKETS; i++) {
                    n = snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", m->name,
                                 s_buckets[i], s->bucket[i]);
                    zchunk_extend(out, line, (size_t) n);
                }
                n = snprintf(line, sizeof line,
                             "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", m->name,
                             s->count, m->name, s->value, m->name, s->count);
            } else if (*s->labels) {
                n = snprintf(line, sizeof line, "%s{%s} %.17g\n", m->name, s->labels, s->value);
            } else {
                n = snprintf(line, sizeof line, "%s %.17g\n", m->name, s->value);
            }
            zchunk_extend(out, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
        }
    }
    pthread_mutex_unlock(&self->lock);
    char *text = xmalloc(zchunk_size(out) + 1);
    memcpy(text, zchunk_data(out), zchunk_size(out));
    text[zchunk_size(out)] = '\0';
    zchunk_destroy(&out);
    return text;
}
