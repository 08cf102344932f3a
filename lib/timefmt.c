/* Times on the wire: RFC 3339 in UTC, as the Release Tracker shows them. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/timefmt.h"

static char *put_digits(char *o, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return o + n;
}

/* By hand rather than strftime: history and current-releases responses
 * format two times per row, and strftime was a tenth of their CPU. */
void timefmt_format(int64_t ms, char *out, size_t cap)
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;
	char buf[40], *o = buf;
	if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		snprintf(out, cap, "%s", "0000-00-00T00:00:00Z"); /* outside what a release time can be */
		return;
	}
	o = put_digits(o, tm.tm_year + 1900, 4);
	*o++ = '-';
	o = put_digits(o, tm.tm_mon + 1, 2);
	*o++ = '-';
	o = put_digits(o, tm.tm_mday, 2);
	*o++ = 'T';
	o = put_digits(o, tm.tm_hour, 2);
	*o++ = ':';
	o = put_digits(o, tm.tm_min, 2);
	*o++ = ':';
	o = put_digits(o, tm.tm_sec, 2);
	if (frac != 0) {
		*o++ = '.';
		o = put_digits(o, frac, 3);
	}
	*o++ = 'Z';
	size_t n = (size_t)(o - buf) < cap ? (size_t)(o - buf) : cap - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
}


static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i])) {
			return -1;
		}
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

int timefmt_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, frac_ms = 0;
	const char *p = s;
	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d) ||
	    (*p != 'T' && *p != 't' && *p != ' ')) {
		return -1;
	}
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec)) {
		return -1;
	}
	if (*p == '.') {
		p++;
		int n = 0;
		while (isdigit((unsigned char)*p)) {
			if (n < 3) {
				frac_ms = frac_ms * 10 + (*p - '0');
			}
			n++;
			p++;
		}
		if (n == 0) {
			return -1;
		}
		for (; n < 3; n++) {
			frac_ms *= 10;
		}
	}
	int offset_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) {
			return -1;
		}
		offset_min = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970) {
		return -1;
	}
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)) {
		return -1;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	int64_t v = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
	/* The instant itself must be one timefmt_format writes: an offset can
	 * move 1970-01-01 before the epoch, or 9999-12-31 past year 9999
	 * (found by fuzz/fuzz_time: "1970-01-01T00:37:25+02:00"). */
	if (v < 0 || v > TIMEFMT_MAX_MS) {
		return -1;
	}
	*ms = v;
	return 0;
}
