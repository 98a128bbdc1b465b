/*  metrics - counters, gauges and a histogram, rendered in Prometheus' text format
 *
 *  A small registry shared between a daemon's main loop (which updates it once per batch or
 *  file, never per record) and its HTTP thread (which renders it); a mutex guards it. Series are
 *  named by metric name and label text, e.g. ("edu_records_refused_total",
 *  "reason=\"out_of_range\"").
 *
 *  The exposition has one family per `# TYPE`: each metric's HELP and TYPE lines, then all its
 *  samples, then the next metric's, in order of declaration. A series, once it exists, is kept:
 *  a count that falls to none reads 0 instead of vanishing, and metrics_zero() makes the series
 *  a daemon knows in advance before their first event (so rate() sees that event). Every
 *  registry has `edu_build_info{version, compiler} 1`.
 */
#ifndef EDU_METRICS_H
#define EDU_METRICS_H

#include <stddef.h>

typedef struct metrics_t metrics_t;

/*  A registry with edu_build_info in it. */
metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/*  Declares a metric: type "counter", "gauge" or "histogram", and its help line (one line of
 *  text). Series of undeclared metrics are rendered as untyped. */
void metrics_declare(metrics_t *self, const char *name, const char *type, const char *help);

/*  Makes a series at 0 if it does not exist yet (labels may be NULL or ""); for a histogram,
 *  its empty buckets. */
void metrics_zero(metrics_t *self, const char *name, const char *labels);

/*  Adds v to a counter series (labels may be NULL or ""). */
void metrics_add(metrics_t *self, const char *name, const char *labels, double v);

/*  Sets a gauge series. */
void metrics_set(metrics_t *self, const char *name, const char *labels, double v);

/*  Sets a gauge's series at once (under one lock, so a scrape never sees half of it): series
 *  labels[i] to values[i] for i < n, and every other series the gauge had to 0. */
void metrics_set_all(metrics_t *self, const char *name, size_t n, const char *const *labels,
                     const double *values);

/*  Forgets every series of a metric: its family is rendered with no sample (for a value that
 *  cannot be known now, such as a count read from a database that is down). */
void metrics_clear(metrics_t *self, const char *name);

/*  Observes v (seconds) in a histogram with buckets from 1 ms to 10 s. */
void metrics_observe(metrics_t *self, const char *name, double v);

/*  Label text from name/value pairs, values escaped as the text format wants (\\, \", \n):
 *  metrics_labels("destination", name, NULL) -> `destination="..."`. The caller frees it. */
char *metrics_labels(const char *name, const char *value, ...) __attribute__((sentinel));

/*  The text exposition (caller frees). */
char *metrics_render(metrics_t *self);

#endif
