/* log.c -- timestamped log lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static enum log_level	 log_level = LOG_INFO;
static const char	*log_name = "mediflow";

void
log_set_level(enum log_level level)
{
	log_level = level;
}

void
log_set_name(const char *name)
{
	log_name = name;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static const char	*names[] = { "error", "warn", "info", "debug" };
	char			 stamp[32];
	struct timespec		 ts;
	struct tm		 tm;
	va_list			 ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000,
	    log_name, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
