/*  period - academic years (学年) and the clock that decides deadlines */
#include "period.h"

#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool s_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char) s[i]))
            return false;
    return true;
}

int period_parse(const char *text, int *year)
{
    if (strlen(text) != 9 || text[4] != '-' || !s_digits(text, 4) || !s_digits(text + 5, 4))
        return -1;
    int first = atoi(text), second = atoi(text + 5);
    if (second != first + 1 || first < 1900 || first > 2999)
        return -1;
    *year = first;
    return 0;
}

int period_parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) != 3 ||
        consumed != 10)
        return -1;
    const char *rest = text + consumed;
    long offset = 0;
    if (*rest == 'T' || *rest == ' ') {
        int n = 0;
        if (sscanf(rest + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) == 3 &&
            n == 8) {
            rest += 1 + n;
        } else if (sscanf(rest + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) == 2 && n == 5) {
            rest += 1 + n; // no seconds
        } else {
            return -1;
        }
        if (*rest == '.') // fractions of a second are accepted and ignored
            for (rest++; isdigit((unsigned char) *rest); rest++)
                ;
        if (*rest == 'Z') {
            rest++;
        } else if (*rest == '+' || *rest == '-') {
            int hh = 0, mm = 0;
            if (!(sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &n) == 2 && n == 5) &&
                !(sscanf(rest + 1, "%2d%2d%n", &hh, &mm, &n) == 2 && n == 4) &&
                !(sscanf(rest + 1, "%2d%n", &hh, &n) == 1 && n == 2 && (mm = 0) == 0))
                return -1;
            offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
            rest += 1 + n;
        }
    }
    if (*rest != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm) - offset;
    return 0;
}

int period_now(time_t *out)
{
    const char *env = getenv("EDU_NOW");
    if (env && *env)
        return period_parse_time(env, out);
    *out = time(NULL);
    return 0;
}

int period_current_year(time_t now)
{
    time_t china = now + 8 * 3600;
    struct tm tm;
    gmtime_r(&china, &tm);
    return tm.tm_year + 1900 - (tm.tm_mon < 8); // tm_mon 8 is September
}

int period_parse_duration(const char *text, long *seconds, char *err, size_t errlen)
{
    char *end = NULL;
    long n = strtol(text, &end, 10);
    long unit = !*end                    ? 86400
                : strcmp(end, "d") == 0 ? 86400
                : strcmp(end, "h") == 0 ? 3600
                : strcmp(end, "m") == 0 ? 60
                : strcmp(end, "s") == 0 ? 1
                                        : 0;
    if (end == text || n < 0 || !unit || n > 3650L * 86400 / unit)
        return errorf(err, errlen, "\"%s\" is not a duration like 7d, 12h or 30m (days when no "
                      "unit is given; at most 10 years; 0 = never)", text);
    *seconds = n * unit;
    return 0;
}
