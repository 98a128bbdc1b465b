/*  metrics - counters, gauges and a histogram, rendered in Prometheus' text format
 *
 *  A small registry shared between a daemon's main loop (which updates it once per batch or
 *  file, never per record) and its HTTP thread (which renders it); a mutex guards it. Series are
 *  named by metric name and label text, e.g. ("edu_records_refused_total",
 *  "reason=\"out_of_range\"").
 */
#ifndef EDU_METRICS_H
#define EDU_METRICS_H

#include <stddef.h>

typedef struct metrics_t metrics_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **self_p);

/*  Declares a metric: type "counter", "gauge" or "histogram", and its help line. Series of
 *  undeclared metrics are rendered as untyped. */
void metrics_declare(metrics_t *self, const char *name, const char *type, const char *help);

/*  Adds v to a counter series (labels may be NULL or ""). */
void metrics_add(metrics_t *self, const char *name, const char *labels, double v);

/*  Sets a gauge series. */
void metrics_set(metrics_t *self, const char *name, const char *labels, double v);

/*  Forgets every series of a gauge (before setting the current ones again). */
void metrics_clear(metrics_t *self, const char *name);

/*  Observes v (seconds) in a histogram with buckets from 1 ms to 10 s. */
void metrics_observe(metrics_t *self, const char *name, double v);

/*  The text exposition (caller frees). */
char *metrics_render(metrics_t *self);

#endif
